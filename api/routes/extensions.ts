/** `/api/extensions`: the integrations an admin switches on (Infobip, the one there is). */
import { Hono } from 'hono';
import { z } from 'zod';
import { Extension, isDuplicateKeyError } from '../../db/models';
import { type AuthEnv, requireAdmin } from '../auth';
import { describeRoute } from '../describe-route';
import { parseJson } from '../errors';

export const INFOBIP_EXTENSION = 'infobip';

export const extensionSwitchSchema = z.object({ enabled: z.boolean() });

export function extensionRoutes() {
  const app = new Hono<AuthEnv>();

  const read = describeRoute({
    summary: 'Whether the Infobip extension is enabled',
    auth: 'agent',
    returns: '{ name, enabled }',
  });
  app.get('/infobip', read, async (c) => {
    const extension = await Extension.findById(INFOBIP_EXTENSION).lean();
    return c.json({ name: INFOBIP_EXTENSION, enabled: extension?.enabled ?? false });
  });

  const write = describeRoute({
    summary: 'Enable or disable the Infobip extension',
    auth: 'admin',
    body: extensionSwitchSchema,
    returns: '{ name, enabled }',
  });
  app.put('/infobip', write, async (c) => {
    requireAdmin(c.get('principal'));
    const { enabled } = await parseJson(c, extensionSwitchSchema);
    try {
      await Extension.updateOne({ _id: INFOBIP_EXTENSION }, { $set: { enabled } }, { upsert: true });
    } catch (err) {
      // Two upserts at once: the loser's insert meets the winner's document; the update itself then applies.
      if (!isDuplicateKeyError(err)) throw err;
      await Extension.updateOne({ _id: INFOBIP_EXTENSION }, { $set: { enabled } });
    }
    return c.json({ name: INFOBIP_EXTENSION, enabled });
  });

  return app;
}
