import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Conversation } from '../db/models';
import { signInToConsole, startConsoleTests } from './helpers/browser';
import { type Stack, waitFor } from './helpers/stack';

// A team in the console: signing in brings the agent online (presence toggle), the chats' Mine / Unassigned / Team /
// All tabs with their counts and the queue's waiting time, a transfer, and "Ana is viewing" / "is typing" live.
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let stack: Stack;
let browser: Browser;
startConsoleTests({ artifacts }, (started) => ({ stack, browser } = started));

const signIn = async (token: string): Promise<Page> => (await signInToConsole(browser, stack.api.url, token)).page;
const tabCount = async (page: Page, tab: string) => Number(await page.textContent(`[data-chat-tab="${tab}"] .count`));

describe('teams in the console', () => {
  it('presence, the chats tabs with counts and waiting times, a transfer, and who else is viewing', async () => {
    const channel = await stack.createChannel('whatsapp');
    const ana = await stack.createAgent([channel.id]);
    const bruno = await stack.createAgent([channel.id]);
    // A manual team: its tickets wait in the queue until someone takes them.
    const sales = await stack.call('POST', '/api/teams', {
      name: 'Vendas',
      channelIds: [channel.id],
      members: [{ agentId: ana.id }, { agentId: bruno.id }],
    });
    const support = await stack.call('POST', '/api/teams', { name: 'Suporte', channelIds: [channel.id] });
    await stack.call('PATCH', `/api/channels/${channel.id}`, { defaultTeamId: sales.body.id });
    for (const phone of ['5511988800001', '5511988800002', '5511988800003'])
      await stack.customerWrites(channel, phone, 'Oi');
    await waitFor(async () => (await Conversation.countDocuments({ channelId: channel.id })) === 3);
    const mine = await Conversation.findOne({ channelId: channel.id, customer: '5511988800001' }).lean();
    await stack.call('PATCH', `/api/conversations/${mine!._id}`, { assigneeId: ana.id }, ana.token);

    const page = await signIn(ana.token);
    // Signing in brings her online.
    await expect.poll(() => page.inputValue('#presence')).toBe('online');
    await waitFor(async () => {
      const agents = (await stack.call('GET', '/api/agents')).body.items;
      return agents.find((a: { id: string }) => a.id === ana.id).presence.status === 'online';
    });
    await expect.poll(() => tabCount(page, 'all')).toBe(3);
    expect(await tabCount(page, 'mine')).toBe(1);
    expect(await tabCount(page, 'unassigned')).toBe(2);
    expect(await tabCount(page, 'team')).toBe(3);
    await page.click('[data-chat-tab="unassigned"]');
    await expect.poll(() => page.locator('.conv-item').count()).toBe(2);
    // The queue's waiting time on each waiting ticket.
    await expect.poll(() => page.locator('.conv-item .badge.waiting').count()).toBe(2);
    await page.screenshot({ path: `${artifacts}teams-01-chats-tabs.png`, fullPage: true });

    // Bruno opens one of them: Ana, opening it too, sees him viewing; when he types, she sees that.
    const waiting = await Conversation.findOne({ channelId: channel.id, customer: '5511988800002' }).lean();
    const brunoPage = await signIn(bruno.token);
    await brunoPage.click(`.conv-item[data-id="${waiting!._id}"]`);
    await page.click(`.conv-item[data-id="${waiting!._id}"]`);
    await expect.poll(() => page.textContent('#viewers')).toContain(`${bruno.name} is viewing`);
    await brunoPage.fill('#composer-text', 'Olá');
    await brunoPage.type('#composer-text', '!');
    await expect.poll(() => page.textContent('#viewers'), { timeout: 3_000 }).toContain(`${bruno.name} is typing`);
    await page.screenshot({ path: `${artifacts}teams-02-viewing.png`, fullPage: true });

    // Ana transfers it to Support: it leaves her team's tab.
    await page.selectOption('#ticket-team', support.body.id);
    await waitFor(async () => (await Conversation.findById(waiting!._id).lean())?.teamId === support.body.id);
    // The counts are read again a second after the conversation's event.
    await expect.poll(() => tabCount(page, 'team'), { timeout: 5_000 }).toBe(2);

    // Away by choice: the toggle says so, and so does the agents' list.
    await page.selectOption('#presence', 'away');
    await waitFor(async () => {
      const agents = (await stack.call('GET', '/api/agents')).body.items;
      return agents.find((a: { id: string }) => a.id === ana.id).presence.status === 'away';
    });
    await expect.poll(() => page.getAttribute('.presence', 'class')).toContain('away');
  }, 90_000);
});
