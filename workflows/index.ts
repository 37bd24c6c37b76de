export { dialogBatchWorkflow } from './batch';
export { conversationWorkflow } from './conversation';
export { agentPresenceWorkflow } from './presence';
export { teamDispatcherWorkflow } from './team-dispatcher';
