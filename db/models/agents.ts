import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { PRESENCE_STATUSES } from '../../common/teams';

// Who signs in to the console: agents (and admins, and automation principals) and their sessions.

const agentSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    email: { type: String, required: true, unique: true },
    role: { type: String, enum: ['admin', 'agent', 'automation'], required: true },
    channelIds: { type: [String], default: [] },
    tokenHash: { type: String, required: true, unique: true, select: false },
    /** The presence in effect (common/teams.ts Presence), as the agent's presence workflow last recorded it. */
    presence: {
      type: new Schema(
        {
          status: { type: String, enum: PRESENCE_STATUSES, required: true },
          chosen: { type: String, enum: PRESENCE_STATUSES, required: true },
          auto: { type: Boolean, default: false },
          since: { type: Date, required: true },
        },
        { _id: false },
      ),
      default: null,
    },
    /** Set by DELETE /api/agents/:id: the agent stays for the names on history, but signs in and acts no more. */
    removedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

// Console sessions (http-only cookie). FerretDB 1.x has no TTL indexes: expiry is checked on read.
const sessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** The agent id, or `admin` for the bootstrap admin token. */
    principalId: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  { timestamps: true, versionKey: false },
);

export const Agent = mongoose.model('Agent', agentSchema, 'agents');
export const Session = mongoose.model('Session', sessionSchema, 'sessions');

export type AgentDoc = InferSchemaType<typeof agentSchema>;
