/** Agents as other records name them. */
import { Agent } from './models';

/** The agent's display name, or null (no such agent). */
export async function agentNameOf(agentId: string): Promise<string | null> {
  const agent = await Agent.findById(agentId).select('name').lean();
  return agent?.name ?? null;
}
