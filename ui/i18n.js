// Console texts in English and Brazilian Portuguese (the product's first users read Portuguese).
export const texts = {
  en: {
    signIn: 'Sign in',
    signInTitle: 'Sign in to Janela',
    tokenLabel: 'Agent token',
    signOut: 'Sign out',
    chats: 'Chats',
    tickets: 'Tickets',
    admin: 'Admin',
    reports: 'Reports',
    reportRange: 'Range',
    lastDays: 'Last {days} days',
    loading: 'Loading…',
    csatTitle: 'Customer satisfaction',
    csatSummary: 'Average {average} of 5 · answers: {count} · surveys sent: {sent}',
    agent: 'Agent',
    answers: 'Answers',
    average: 'Average',
    noAnswers: 'No answers yet',
    entryPointsTitle: 'Customers from ads and posts',
    adSource: 'Ad or post',
    sourceType: 'Type',
    conversationsCount: 'Conversations',
    answeredInTime: 'Answered within 24 h',
    noEntryPoints: 'No customer came from an ad in this range',
    language: 'Language',
    noConversations: 'No conversations yet.',
    pickConversation: 'Pick a conversation on the left.',
    createChat: 'Create chat',
    windowOpen: 'Window open: {left} left',
    windowClosed: 'Window closed',
    noWindow: 'No reply window (Viber)',
    ticket: 'Ticket',
    status: 'Status',
    assignee: 'Assignee',
    unassigned: 'Unassigned',
    open: 'Open',
    pending: 'Pending',
    closed: 'Closed',
    all: 'All',
    me: 'Mine',
    channel: 'Channel',
    client: 'Client',
    lastActivity: 'Last activity',
    typeMessage: 'Type a message…',
    typeNote: 'Internal note — only agents see it…',
    send: 'Send',
    sendTemplate: 'Send template',
    addNote: 'Add note',
    note: 'Internal note',
    attach: 'Attach',
    removeAttachment: 'Remove',
    windowHint:
      'The customer has not written in the last {window}, so WhatsApp only allows approved templates. Notes still work.',
    learnMore: 'About the 24-hour rule',
    template: 'Template',
    chooseTemplate: 'Choose a template',
    variable: 'Variable {n}',
    preview: 'Preview',
    cancel: 'Cancel',
    templateSent: 'Template sent. The conversation continues when the customer answers.',
    loadOlder: 'Load older messages',
    noTemplates: 'No approved templates on this channel. An admin can sync or register them.',
    phone: 'Phone (international, digits only, no +)',
    searchClient: 'Search client by name',
    newClient: 'New client: {name}',
    clientPicked: 'Client: {name}',
    start: 'Start chat',
    sent: 'sent',
    queued: 'sending…',
    delivered: 'delivered',
    seen: 'seen',
    failed: 'failed',
    unknown: 'may not have been sent',
    unknownExplained:
      'Janela lost contact with Infobip while sending this message, and no report has come since: the customer may or may not have it. It is not sent again unless you resend it.',
    resend: 'Resend',
    resent: 'Resent below',
    received: '',
    openInTemporal: 'Workflow in Temporal Web',
    extensions: 'Extensions',
    channels: 'Channels',
    agents: 'Agents',
    templates: 'Templates',
    infobipExtension: 'Infobip (WhatsApp Business and Viber)',
    enabled: 'Enabled',
    disabled: 'Disabled',
    enable: 'Enable',
    disable: 'Disable',
    newChannel: 'New channel',
    editChannel: 'Edit channel',
    kind: 'Kind',
    name: 'Name',
    apiBaseUrl: 'Infobip API base URL',
    apiKey: 'API key (write-only)',
    apiKeyKeep: 'API key (leave empty to keep the current one)',
    sender: 'Sender (WhatsApp number, or Viber sender name)',
    viberMedia: 'Viber attachments',
    viberLink: 'As a link in a text (default)',
    viberNative: 'Native image/file where the account allows',
    automation: 'Automation',
    reminderEnabled: 'Remind the customer before the reply window closes',
    reminderBefore: 'How long before the end (e.g. 1h, 30m)',
    reminderText: 'Reminder text (empty: the default)',
    reminderHint:
      'Sent once per window, only while the ticket is not closed and the customer has not written since your last message.',
    hoursEnabled: 'Working hours (off: always open, no welcome or away message)',
    timeZone: 'Time zone',
    day_mon: 'Monday',
    day_tue: 'Tuesday',
    day_wed: 'Wednesday',
    day_thu: 'Thursday',
    day_fri: 'Friday',
    day_sat: 'Saturday',
    day_sun: 'Sunday',
    datesOff: 'Dates off (YYYY-MM-DD, comma-separated)',
    welcomeText: "Welcome message on a customer's first conversation (empty: none)",
    awayText: 'Away message when a customer writes outside working hours (empty: none)',
    hoursHint:
      'Each day: intervals like 09:00-12:00, 13:00-18:00 (empty: closed). The away message goes once per away period; automatic replies go only inside the reply window.',
    hoursFormat: '{day}: "{piece}" is not an interval like 09:00-18:00.',
    arrived: 'Arrived',
    outsideHours: 'Outside working hours',
    insideHours: 'Within working hours',
    surveyEnabled: 'Ask the customer for a score (1–5) when a ticket closes',
    surveyQuestion: 'Survey question (empty: the default)',
    surveyTemplate: 'Template for a closed reply window (approved, without variables)',
    surveyLanguage: "Template language (also the language of the scores' labels)",
    surveyHint:
      'Inside the reply window the scores go as a list to tap; outside it, the template (none set: no survey, and the timeline says so). A tap, or a message that is just a digit 1–5 while the ticket is closed, is the answer.',
    closingSoon: 'Closing soon',
    fromAd: 'From an ad',
    storageNote: "Part of this message could not be stored as it came (the customer's app sent unusual data).",
    csatScore: 'Satisfaction: {score}/5 ★ ({time})',
    fromPost: 'From a post',
    templatesFreeUntil: 'templates free until {time} (entry point)',
    closesIn: 'Closes in {left}',
    slaDueIn: 'SLA: due in {left}',
    slaAtRisk: 'SLA at risk: {left} left',
    slaBreached: 'SLA breached',
    slaMissed: 'SLA missed',
    slaMet: 'SLA met',
    slaFilter: 'Service level',
    slaAtRiskFilter: 'At risk',
    slaBreachedFilter: 'Breached',
    slaWindowFirst: 'The reply window closes before the answer is due: a late answer needs a template.',
    automaticReminder: 'Automatic: reminder before the window closes',
    automaticSurvey: 'Automatic: satisfaction survey',
    automaticWelcome: 'Automatic: welcome message',
    automaticAway: 'Automatic: away message',
    sendRate: 'Batch sends per second (all batches on this channel)',
    headerMedia: 'Header {kind} (link)',
    headerFilename: 'Document file name',
    headerFilenameHint: 'optional: the name in the link',
    headerVariable: 'Header variable',
    buttonVariable: 'Button "{name}": end of its link',
    save: 'Save',
    edit: 'Edit',
    webhookUrl: 'Webhook URL',
    copy: 'Copy',
    copied: 'Copied',
    setupWhatsapp:
      'WhatsApp: in the Infobip portal open Channels and Numbers → WhatsApp → your sender → Edit configuration, set "Forward to HTTP" with method POST and paste the webhook URL. Delivery and seen reports come back on the same URL.',
    setupViber:
      'Viber: in the Infobip portal open Channels and Numbers → Viber → your sender, set the inbound forwarding to HTTP POST and paste the webhook URL. Janela asks for delivery and seen reports on the same URL with each message.',
    newAgent: 'New agent',
    editAgent: 'Edit agent',
    email: 'Email',
    role: 'Role',
    channelAccess: 'Channel access',
    tokenOnce: 'Token for {name} — shown once, copy it now:',
    renewToken: 'Renew token',
    renewTokenConfirm: 'Renew the token of {name}? The old token stops working at once and signs {name} out.',
    removeAgent: 'Remove',
    removeAgentConfirm: 'Remove {name}? Their token stops working at once; history keeps their name.',
    removed: 'removed',
    sync: 'Sync from Infobip',
    synced: '{n} template(s) synced.',
    register: 'Register template',
    body: 'Body (placeholders {{1}}, {{2}}…)',
    category: 'Category',
    placeholders: 'Variables',
    saved: 'Saved.',
    tooLarge: 'Failed to send attachment, size exceeded (images up to 5 MB, files up to 100 MB)',
    viberLinkNote: 'On Viber, files go out as a link.',
    file: 'file',
    mediaDownloading: 'downloading…',
    mediaFailed: "The customer's file could not be downloaded: {reason}",
    mediaFailure_MEDIA_HOST_REFUSED: "its address is not on the channel's Infobip host, so Janela did not fetch it",
    mediaFailure_MEDIA_REFUSED: 'Infobip would not hand it over',
    mediaFailure_MEDIA_TOO_LARGE: 'it is larger than 100 MB',
    mediaFailure_MEDIA_DOWNLOAD_FAILED: 'the download kept failing',
    failedBecause: 'Not delivered: {reason}',
    selectChannel: 'Select a channel',
    teams: 'Teams',
    newTeam: 'New team',
    editTeam: 'Edit team',
    members: 'Members',
    memberCapacity: 'own capacity',
    assignmentMode: 'Assignment',
    mode_manual: 'Manual',
    mode_round_robin: 'Automatic: round robin',
    mode_balanced: 'Automatic: fewest open tickets',
    capacity: 'Open tickets per agent',
    sticky: 'A reopened ticket returns to its last assignee (if online)',
    stickyDays: 'within days of its close',
    deleteTeam: 'Delete',
    deleteTeamConfirm:
      'Delete the team {name}? Its tickets keep it until transferred; its channels lose it as default.',
    defaultTeam: 'Default team for new tickets',
    noTeam: 'No team',
    replyPolicy: 'Who may answer a ticket',
    policy_anyone: 'Anyone with the channel',
    policy_assignee_or_unassigned: 'Its assignee, or anyone while unassigned',
    policy_assignee_only: 'Only its assignee (admins may override)',
    presence: 'Presence',
    presence_online: 'Online',
    presence_busy: 'Busy',
    presence_away: 'Away',
    presence_offline: 'Offline',
    tab_mine: 'Mine',
    tab_unassigned: 'Unassigned',
    tab_team: 'Team',
    tab_all: 'All',
    waitingFor: 'waiting {left}',
    team: 'Team',
    isViewing: '{name} is viewing',
    isTyping: '{name} is typing…',
  },
  'pt-BR': {
    signIn: 'Entrar',
    signInTitle: 'Entrar no Janela',
    tokenLabel: 'Token do agente',
    signOut: 'Sair',
    chats: 'Chats',
    tickets: 'Tickets',
    admin: 'Administração',
    reports: 'Relatórios',
    reportRange: 'Período',
    lastDays: 'Últimos {days} dias',
    loading: 'Carregando…',
    csatTitle: 'Satisfação dos clientes',
    csatSummary: 'Média {average} de 5 · respostas: {count} · pesquisas enviadas: {sent}',
    agent: 'Atendente',
    answers: 'Respostas',
    average: 'Média',
    noAnswers: 'Ainda sem respostas',
    entryPointsTitle: 'Clientes vindos de anúncios e publicações',
    adSource: 'Anúncio ou publicação',
    sourceType: 'Tipo',
    conversationsCount: 'Conversas',
    answeredInTime: 'Respondidas em 24 h',
    noEntryPoints: 'Nenhum cliente veio de um anúncio neste período',
    language: 'Idioma',
    noConversations: 'Ainda não há conversas.',
    pickConversation: 'Escolha uma conversa à esquerda.',
    createChat: 'Criar chat',
    windowOpen: 'Janela aberta: faltam {left}',
    windowClosed: 'Janela fechada',
    noWindow: 'Sem janela de resposta (Viber)',
    ticket: 'Ticket',
    status: 'Status',
    assignee: 'Responsável',
    unassigned: 'Sem responsável',
    open: 'Aberto',
    pending: 'Pendente',
    closed: 'Fechado',
    all: 'Todos',
    me: 'Meus',
    channel: 'Canal',
    client: 'Cliente',
    lastActivity: 'Última atividade',
    typeMessage: 'Digite uma mensagem…',
    typeNote: 'Comentário interno — só os agentes veem…',
    send: 'Enviar',
    sendTemplate: 'Enviar modelo',
    addNote: 'Adicionar comentário',
    note: 'Comentário interno',
    attach: 'Anexar',
    removeAttachment: 'Remover',
    windowHint:
      'O cliente não escreve há mais de {window}; o WhatsApp só permite modelos aprovados. Comentários internos continuam funcionando.',
    learnMore: 'Sobre a regra das 24 horas',
    template: 'Modelo',
    chooseTemplate: 'Escolha um modelo',
    variable: 'Variável {n}',
    preview: 'Pré-visualização',
    cancel: 'Cancelar',
    templateSent: 'Modelo enviado. A conversa continua quando o cliente responder.',
    loadOlder: 'Carregar mensagens anteriores',
    noTemplates: 'Nenhum modelo aprovado neste canal. Um administrador pode sincronizar ou cadastrar.',
    phone: 'Telefone (internacional, só dígitos, sem +)',
    searchClient: 'Buscar cliente pelo nome',
    newClient: 'Novo cliente: {name}',
    clientPicked: 'Cliente: {name}',
    start: 'Iniciar chat',
    sent: 'enviada',
    queued: 'enviando…',
    delivered: 'entregue',
    seen: 'lida',
    failed: 'falhou',
    unknown: 'talvez não enviada',
    unknownExplained:
      'O Janela perdeu o contato com a Infobip ao enviar esta mensagem e nenhum relatório chegou desde então: o cliente pode ou não tê-la recebido. Ela não é enviada de novo, a menos que você a reenvie.',
    resend: 'Reenviar',
    resent: 'Reenviada abaixo',
    received: '',
    openInTemporal: 'Workflow no Temporal Web',
    extensions: 'Extensões',
    channels: 'Canais',
    agents: 'Agentes',
    templates: 'Modelos',
    infobipExtension: 'Infobip (WhatsApp Business e Viber)',
    enabled: 'Ativada',
    disabled: 'Desativada',
    enable: 'Ativar',
    disable: 'Desativar',
    newChannel: 'Novo canal',
    editChannel: 'Editar canal',
    kind: 'Tipo',
    name: 'Nome',
    apiBaseUrl: 'URL base da API Infobip',
    apiKey: 'Chave de API (só escrita)',
    apiKeyKeep: 'Chave de API (deixe vazio para manter a atual)',
    sender: 'Remetente (número do WhatsApp ou nome do remetente Viber)',
    viberMedia: 'Anexos no Viber',
    viberLink: 'Como link em um texto (padrão)',
    viberNative: 'Imagem/arquivo nativo, se a conta permitir',
    automation: 'Automação',
    reminderEnabled: 'Lembrar o cliente antes de a janela de resposta fechar',
    reminderBefore: 'Quanto tempo antes do fim (ex.: 1h, 30m)',
    reminderText: 'Texto do lembrete (vazio: o padrão)',
    reminderHint:
      'Enviado uma vez por janela, só com o ticket não fechado e se o cliente não escreveu desde a sua última mensagem.',
    hoursEnabled: 'Horário de atendimento (desligado: sempre aberto, sem boas-vindas nem ausência)',
    timeZone: 'Fuso horário',
    day_mon: 'Segunda',
    day_tue: 'Terça',
    day_wed: 'Quarta',
    day_thu: 'Quinta',
    day_fri: 'Sexta',
    day_sat: 'Sábado',
    day_sun: 'Domingo',
    datesOff: 'Dias sem atendimento (AAAA-MM-DD, separados por vírgula)',
    welcomeText: 'Mensagem de boas-vindas na primeira conversa do cliente (vazio: nenhuma)',
    awayText: 'Mensagem de ausência quando o cliente escreve fora do horário (vazio: nenhuma)',
    hoursHint:
      'Cada dia: intervalos como 09:00-12:00, 13:00-18:00 (vazio: fechado). A ausência vai uma vez por período fora do horário; respostas automáticas só dentro da janela de resposta.',
    hoursFormat: '{day}: "{piece}" não é um intervalo como 09:00-18:00.',
    arrived: 'Chegada',
    outsideHours: 'Fora do horário',
    insideHours: 'Dentro do horário',
    surveyEnabled: 'Pedir uma nota (1–5) ao cliente quando um ticket fecha',
    surveyQuestion: 'Pergunta da pesquisa (vazio: a padrão)',
    surveyTemplate: 'Modelo para a janela de resposta fechada (aprovado, sem variáveis)',
    surveyLanguage: 'Idioma do modelo (também o dos rótulos das notas)',
    surveyHint:
      'Dentro da janela de resposta as notas vão como uma lista para tocar; fora dela, o modelo (sem modelo: nenhuma pesquisa, e a linha do tempo diz por quê). Um toque, ou uma mensagem que é só um dígito de 1 a 5 com o ticket fechado, é a resposta.',
    closingSoon: 'Fechando em breve',
    fromAd: 'Veio de um anúncio',
    storageNote: 'Parte desta mensagem não pôde ser guardada como veio (o app do cliente enviou dados incomuns).',
    csatScore: 'Satisfação: {score}/5 ★ ({time})',
    fromPost: 'Veio de uma publicação',
    templatesFreeUntil: 'modelos gratuitos até {time} (ponto de entrada)',
    closesIn: 'Fecha em {left}',
    slaDueIn: 'SLA: vence em {left}',
    slaAtRisk: 'SLA em risco: faltam {left}',
    slaBreached: 'SLA estourado',
    slaMissed: 'SLA perdido',
    slaMet: 'SLA cumprido',
    slaFilter: 'Nível de serviço',
    slaAtRiskFilter: 'Em risco',
    slaBreachedFilter: 'Estourado',
    slaWindowFirst: 'A janela de resposta fecha antes do prazo: uma resposta atrasada precisará de um modelo.',
    automaticReminder: 'Automático: lembrete antes de a janela fechar',
    automaticSurvey: 'Automático: pesquisa de satisfação',
    automaticWelcome: 'Automático: mensagem de boas-vindas',
    automaticAway: 'Automático: mensagem de ausência',
    sendRate: 'Envios em lote por segundo (todos os lotes deste canal)',
    headerMedia: 'Cabeçalho {kind} (link)',
    headerFilename: 'Nome do arquivo do documento',
    headerFilenameHint: 'opcional: o nome no link',
    headerVariable: 'Variável do cabeçalho',
    buttonVariable: 'Botão "{name}": final do link',
    save: 'Salvar',
    edit: 'Editar',
    webhookUrl: 'URL do webhook',
    copy: 'Copiar',
    copied: 'Copiado',
    setupWhatsapp:
      'WhatsApp: no portal da Infobip abra Channels and Numbers → WhatsApp → seu remetente → Edit configuration, defina "Forward to HTTP" com método POST e cole a URL do webhook. Relatórios de entrega e leitura voltam na mesma URL.',
    setupViber:
      'Viber: no portal da Infobip abra Channels and Numbers → Viber → seu remetente, encaminhe as mensagens recebidas por HTTP POST e cole a URL do webhook. O Janela pede os relatórios de entrega e leitura na mesma URL a cada mensagem.',
    newAgent: 'Novo agente',
    editAgent: 'Editar agente',
    email: 'E-mail',
    role: 'Papel',
    channelAccess: 'Acesso aos canais',
    tokenOnce: 'Token de {name} — mostrado uma única vez, copie agora:',
    renewToken: 'Renovar token',
    renewTokenConfirm:
      'Renovar o token de {name}? O token antigo deixa de funcionar na hora e encerra a sessão de {name}.',
    removeAgent: 'Remover',
    removeAgentConfirm: 'Remover {name}? O token deixa de funcionar na hora; o histórico mantém o nome.',
    removed: 'removido',
    sync: 'Sincronizar com a Infobip',
    synced: '{n} modelo(s) sincronizado(s).',
    register: 'Cadastrar modelo',
    body: 'Texto (variáveis {{1}}, {{2}}…)',
    category: 'Categoria',
    placeholders: 'Variáveis',
    saved: 'Salvo.',
    tooLarge: 'Falha ao enviar um anexo, tamanho excedido (imagens de até 5 MB, arquivos de até 100 MB)',
    viberLinkNote: 'No Viber, arquivos são enviados como link.',
    file: 'arquivo',
    mediaDownloading: 'baixando…',
    mediaFailed: 'Não foi possível baixar o arquivo do cliente: {reason}',
    mediaFailure_MEDIA_HOST_REFUSED: 'o endereço não é do host Infobip do canal, então o Janela não o buscou',
    mediaFailure_MEDIA_REFUSED: 'a Infobip não o entregou',
    mediaFailure_MEDIA_TOO_LARGE: 'ele tem mais de 100 MB',
    mediaFailure_MEDIA_DOWNLOAD_FAILED: 'o download falhou repetidas vezes',
    failedBecause: 'Não entregue: {reason}',
    selectChannel: 'Escolha um canal',
    teams: 'Equipes',
    newTeam: 'Nova equipe',
    editTeam: 'Editar equipe',
    members: 'Membros',
    memberCapacity: 'capacidade própria',
    assignmentMode: 'Atribuição',
    mode_manual: 'Manual',
    mode_round_robin: 'Automática: rodízio',
    mode_balanced: 'Automática: menos tickets abertos',
    capacity: 'Tickets abertos por agente',
    sticky: 'Um ticket reaberto volta ao último responsável (se online)',
    stickyDays: 'em até quantos dias do fechamento',
    deleteTeam: 'Excluir',
    deleteTeamConfirm:
      'Excluir a equipe {name}? Os tickets a mantêm até serem transferidos; os canais a perdem como padrão.',
    defaultTeam: 'Equipe padrão dos novos tickets',
    noTeam: 'Nenhuma equipe',
    replyPolicy: 'Quem pode responder um ticket',
    policy_anyone: 'Qualquer pessoa com o canal',
    policy_assignee_or_unassigned: 'O responsável, ou qualquer um enquanto sem responsável',
    policy_assignee_only: 'Só o responsável (admins podem passar por cima)',
    presence: 'Presença',
    presence_online: 'Online',
    presence_busy: 'Ocupado',
    presence_away: 'Ausente',
    presence_offline: 'Offline',
    tab_mine: 'Meus',
    tab_unassigned: 'Sem responsável',
    tab_team: 'Equipe',
    tab_all: 'Todos',
    waitingFor: 'esperando {left}',
    team: 'Equipe',
    isViewing: '{name} está vendo',
    isTyping: '{name} está digitando…',
  },
};

/** Server error codes shown in the agent's language (the server's English message is the fallback). */
export const errorTexts = {
  en: {
    ATTACHMENT_TOO_LARGE: texts.en.tooLarge,
    CHANNEL_ACCESS_DENIED: 'You do not have access to this channel.',
    INVALID_PHONE: 'Phone must be in international format, digits only, without "+" (e.g. 79254321098).',
    MESSAGE_NOT_RESENDABLE: 'This message can no longer be resent: it was sent after all, or is not a reply.',
    TEMPLATE_VARIABLES_MISMATCH: 'Fill in every variable of the template.',
    UNAUTHORIZED: 'This token is not valid.',
    WORKER_UNAVAILABLE:
      'Janela could not confirm this in time (the service is busy or restarting). Try again in a few seconds: it will not be sent twice.',
    CONVERSATION_CHANGED:
      'Someone else wrote to the customer since you looked. Read the new messages; press Send again to send yours anyway.',
    NOT_ASSIGNEE: 'This ticket is someone else’s: on this channel only its assignee answers.',
  },
  'pt-BR': {
    ATTACHMENT_TOO_LARGE: texts['pt-BR'].tooLarge,
    CHANNEL_ACCESS_DENIED: 'Você não tem acesso a este canal.',
    INVALID_PHONE: 'O telefone deve estar no formato internacional, só dígitos, sem "+" (ex.: 79254321098).',
    MESSAGE_NOT_RESENDABLE: 'Esta mensagem não pode mais ser reenviada: afinal ela foi enviada, ou não é uma resposta.',
    TEMPLATE_VARIABLES_MISMATCH: 'Preencha todas as variáveis do modelo.',
    UNAUTHORIZED: 'Este token não é válido.',
    WINDOW_CLOSED: 'A janela de 24 horas está fechada: só é possível enviar um modelo aprovado.',
    WORKER_UNAVAILABLE:
      'O Janela não conseguiu confirmar a tempo (serviço ocupado ou reiniciando). Tente de novo em alguns segundos: não será enviado duas vezes.',
    CONVERSATION_CHANGED:
      'Outra pessoa escreveu ao cliente depois que você olhou. Leia as novas mensagens; clique em Enviar de novo para enviar a sua mesmo assim.',
    NOT_ASSIGNEE: 'Este ticket é de outra pessoa: neste canal só o responsável responde.',
  },
};

/**
 * Why a message was not delivered, in the agent's language: by Infobip's chat error id, or by Janela's code.
 * The server's English text is the fallback for anything not listed.
 */
export const failureTexts = {
  'pt-BR': {
    7002: 'Este número não está no WhatsApp (usuário desconhecido).',
    7003: 'O cliente bloqueou esta empresa.',
    7008: 'As variáveis do modelo não correspondem ao que o WhatsApp aprovou.',
    7009: 'O modelo não é válido ou não está aprovado para este remetente.',
    7010: 'A janela de 24 horas está fechada: mensagens livres só valem até 24 horas depois da última mensagem do cliente. Envie um modelo aprovado.',
    7013: 'O WhatsApp não conseguiu baixar a mídia.',
    7014: 'A mídia é grande demais para o WhatsApp.',
    7015: 'O WhatsApp não aceita este tipo de mídia.',
    7017: 'O WhatsApp está limitando este remetente (requisições demais).',
    7022: 'Este tipo de mídia não é suportado.',
    7050: 'O provedor do WhatsApp informou um erro; tente novamente mais tarde.',
    7051: 'O provedor do WhatsApp informou um erro; tente novamente mais tarde.',
    INFOBIP_UNAVAILABLE: 'A Infobip não respondeu depois de várias tentativas; a mensagem não foi enviada.',
    UNAUTHORIZED: 'A Infobip recusou a chave de API deste canal.',
    CHANNEL_NOT_FOUND: 'O canal desta conversa não existe mais.',
  },
};

/**
 * System lines of the timeline, rendered from their stored code and parameters. The English must stay the same as
 * the server's stored `text` (common/system-lines.ts); a line without a known code shows that text.
 */
export const systemTexts = {
  en: {
    window_closed:
      'The reply window closed: the customer has not written for {window}. Only approved templates can be sent until the customer writes again.',
    reopened: 'The customer wrote again: the ticket is open again.',
    free_entry_point:
      'The customer came from an ad and was answered in time: every message, templates included, is free until {until}.',
    survey_no_template:
      'No satisfaction survey was sent: the reply window is closed and the channel has no survey template.',
    survey_template_unusable: 'No satisfaction survey was sent: the survey template cannot be sent ({detail}).',
    survey_answered: 'The customer rated the service {score} out of 5.',
    answered_for_assignee: '{author} answered although the ticket is assigned to {assignee}.',
    answered_unassigned: '{author} answered the unassigned ticket, which only its assignee may answer.',
    inbound_store_failing:
      'A message from the customer could not be stored yet (attempt {attempt}); Janela keeps trying and has alerted the operators.',
    ticket_changed: 'Ticket {changes} by {author}.',
    statusChange: 'status {from} → {to}',
    assignedTo: 'assigned to {name}',
    transferredTo: 'transferred to {name}',
    overCapacity: 'over capacity: {open} open of {capacity}',
    assigned: 'Assigned to {name} automatically in {team} ({reason}){waited}.',
    assignedWaited: '; waited {duration}',
    requeued: 'The ticket was reopened and went back to the {team} queue: {name} could not take it.',
    assignmentReasons: {
      round_robin: 'round robin',
      balanced: 'fewest open tickets',
      sticky: 'back to the last assignee',
      requeue: 'back to the queue',
    },
    noTeam: 'taken out of its team',
    unassigned: 'unassigned',
    administrator: 'Administrator',
    statuses: { open: 'open', pending: 'pending', snoozed: 'snoozed', closed: 'closed' },
    sla_warning: 'Service level {policy}: the {target} is due at {due}.',
    sla_breached: 'Service level {policy}: the {target} target was missed (due {due}).{moved}{notified}',
    slaMoved: ' Moved to {team}.',
    slaNotified: ' Notified: {names}.',
    slaTargets: { firstResponse: 'first response', nextResponse: 'next response', resolution: 'resolution' },
    snoozed: 'Ticket snoozed {until} by {author}.',
    snoozedUntil: "until {time} or the customer's next message",
    snoozedUntilReply: "until the customer's next message",
    woke_time: 'The snooze ended: the ticket is open again.',
    woke_customer: 'The customer wrote: the snoozed ticket is open again.',
    auto_resolved: 'Closed automatically: nobody wrote for {idle} while the ticket was {from}.{farewell}',
    autoResolvedFarewell: {
      sent: ' The farewell message was sent.',
      none: '',
      window_closed: ' No farewell: the reply window is closed.',
    },
  },
  'pt-BR': {
    window_closed:
      'A janela de resposta fechou: o cliente não escreve há {window}. Só modelos aprovados podem ser enviados até o cliente escrever de novo.',
    reopened: 'O cliente escreveu de novo: o ticket foi reaberto.',
    free_entry_point:
      'O cliente veio de um anúncio e foi respondido a tempo: todas as mensagens, modelos incluídos, são gratuitas até {until}.',
    survey_no_template:
      'A pesquisa de satisfação não foi enviada: a janela de resposta está fechada e o canal não tem modelo de pesquisa.',
    survey_template_unusable:
      'A pesquisa de satisfação não foi enviada: o modelo da pesquisa não pode ser enviado ({detail}).',
    survey_answered: 'O cliente avaliou o atendimento com nota {score} de 5.',
    answered_for_assignee: '{author} respondeu embora o ticket seja de {assignee}.',
    answered_unassigned: '{author} respondeu o ticket sem responsável, que só o responsável pode responder.',
    inbound_store_failing:
      'Uma mensagem do cliente ainda não pôde ser guardada (tentativa {attempt}); o Janela continua tentando e alertou os operadores.',
    ticket_changed: 'Ticket: {changes}, por {author}.',
    statusChange: 'status {from} → {to}',
    assignedTo: 'atribuído a {name}',
    transferredTo: 'transferido para {name}',
    overCapacity: 'acima da capacidade: {open} abertos de {capacity}',
    assigned: 'Atribuído automaticamente a {name} em {team} ({reason}){waited}.',
    assignedWaited: '; esperou {duration}',
    requeued: 'O ticket foi reaberto e voltou para a fila de {team}: {name} não pôde assumi-lo.',
    assignmentReasons: {
      round_robin: 'rodízio',
      balanced: 'menos tickets abertos',
      sticky: 'de volta ao último responsável',
      requeue: 'de volta à fila',
    },
    noTeam: 'retirado da equipe',
    unassigned: 'sem responsável',
    administrator: 'Administrador',
    statuses: { open: 'aberto', pending: 'pendente', snoozed: 'adiado', closed: 'fechado' },
    sla_warning: 'Nível de serviço {policy}: o prazo de {target} vence às {due}.',
    sla_breached: 'Nível de serviço {policy}: o prazo de {target} foi perdido (vencia às {due}).{moved}{notified}',
    slaMoved: ' Movido para {team}.',
    slaNotified: ' Avisados: {names}.',
    slaTargets: { firstResponse: 'primeira resposta', nextResponse: 'próxima resposta', resolution: 'resolução' },
    snoozed: 'Ticket adiado {until}, por {author}.',
    snoozedUntil: 'até {time} ou a próxima mensagem do cliente',
    snoozedUntilReply: 'até a próxima mensagem do cliente',
    woke_time: 'O adiamento terminou: o ticket está aberto de novo.',
    woke_customer: 'O cliente escreveu: o ticket adiado está aberto de novo.',
    auto_resolved: 'Fechado automaticamente: ninguém escreveu por {idle} com o ticket {from}.{farewell}',
    autoResolvedFarewell: {
      sent: ' A mensagem de despedida foi enviada.',
      none: '',
      window_closed: ' Sem despedida: a janela de resposta está fechada.',
    },
  },
};

const fill = (template, vars) => template.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? `{${name}}`));

/**
 * A duration as words in the largest whole unit up to hours ("24 hours", "2 minutes", "24 horas"); never "1 day",
 * WhatsApp states its rule in hours. Same rule as the server's formatDuration (common/system-lines.ts).
 */
export function formatDuration(ms, lang) {
  const units = [
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ];
  const exact = units.find(([, size]) => ms > 0 && ms % size === 0);
  const [unit, value] = exact
    ? [exact[0], ms / exact[1]]
    : ms >= 1_000
      ? ['second', Math.round(ms / 100) / 10]
      : ['millisecond', Math.max(0, Math.round(ms))];
  return new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

/** A system line ({ system: { code, params }, text }) in the agent's language; old lines without a code: their text. */
export function systemLineText(message, lang) {
  const words = systemTexts[lang] ?? systemTexts.en;
  const code = message.system?.code;
  const p = message.system?.params ?? {};
  if (code === 'window_closed' && Number.isFinite(p.windowMs))
    return fill(words.window_closed, { window: formatDuration(p.windowMs, lang) });
  if (code === 'reopened') return words.reopened;
  if (code === 'free_entry_point' && typeof p.until === 'string')
    return fill(words.free_entry_point, { until: `${p.until.slice(0, 16).replace('T', ' ')} UTC` });
  if (code === 'survey_not_sent' && p.reason === 'no_template') return words.survey_no_template;
  if (code === 'survey_not_sent' && p.reason === 'template_unusable')
    return fill(words.survey_template_unusable, { detail: p.detail ?? 'refused' });
  if (code === 'survey_answered' && Number.isFinite(p.score)) return fill(words.survey_answered, { score: p.score });
  if (code === 'inbound_store_failing' && Number.isFinite(p.attempt))
    return fill(words.inbound_store_failing, { attempt: p.attempt });
  if (code === 'assigned') {
    const team = p.teamName ?? p.teamId ?? '';
    if (!p.assigneeId)
      return fill(words.requeued, { team, name: p.previousAssigneeName ?? p.previousAssigneeId ?? '' });
    const waited =
      p.waitedMs >= 1000
        ? fill(words.assignedWaited, { duration: formatDuration(Math.round(p.waitedMs / 1000) * 1000, lang) })
        : '';
    const reason = words.assignmentReasons[p.reason] ?? p.reason;
    return fill(words.assigned, { name: p.assigneeName ?? p.assigneeId, team, reason, waited });
  }
  if (code === 'answered_for_assignee') {
    const author = p.authorName ?? words.administrator;
    return p.assigneeId
      ? fill(words.answered_for_assignee, { author, assignee: p.assigneeName ?? p.assigneeId })
      : fill(words.answered_unassigned, { author });
  }
  if (code === 'ticket_changed') {
    const changes = [];
    if (p.statusFrom !== p.statusTo)
      changes.push(
        fill(words.statusChange, {
          from: words.statuses[p.statusFrom] ?? p.statusFrom,
          to: words.statuses[p.statusTo] ?? p.statusTo,
        }),
      );
    if (p.teamChanged)
      changes.push(p.teamId ? fill(words.transferredTo, { name: p.teamName ?? p.teamId }) : words.noTeam);
    if (p.assigneeChanged)
      changes.push(p.assigneeId ? fill(words.assignedTo, { name: p.assigneeName ?? p.assigneeId }) : words.unassigned);
    if (p.overCapacity) changes.push(fill(words.overCapacity, p.overCapacity));
    return fill(words.ticket_changed, { changes: changes.join(', '), author: p.authorName ?? words.administrator });
  }
  if ((code === 'sla_warning' || code === 'sla_breached') && typeof p.dueAt === 'string') {
    const names = (p.notifiedAgentIds ?? []).map((id, i) => p.notifiedAgentNames?.[i] ?? id);
    return fill(words[code], {
      policy: p.policyName,
      target: words.slaTargets[p.target] ?? p.target,
      due: `${p.dueAt.slice(0, 16).replace('T', ' ')} UTC`,
      moved: p.movedToTeamId ? fill(words.slaMoved, { team: p.movedToTeamName ?? p.movedToTeamId }) : '',
      notified: names.length ? fill(words.slaNotified, { names: names.join(', ') }) : '',
    });
  }
  if (code === 'snoozed') {
    const until =
      typeof p.until === 'string'
        ? fill(words.snoozedUntil, { time: `${p.until.slice(0, 16).replace('T', ' ')} UTC` })
        : words.snoozedUntilReply;
    return fill(words.snoozed, { until, author: p.authorName ?? words.administrator });
  }
  if (code === 'woke' && (p.reason === 'time' || p.reason === 'customer')) return words[`woke_${p.reason}`];
  if (code === 'auto_resolved' && Number.isFinite(p.idleMs))
    return fill(words.auto_resolved, {
      idle: formatDuration(p.idleMs, lang),
      from: words.statuses[p.from] ?? p.from,
      farewell: words.autoResolvedFarewell[p.farewell] ?? '',
    });
  return message.text ?? '';
}
