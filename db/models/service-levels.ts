import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { DEFAULT_SLA_WARN_AT, SLA_BUSINESS_HOURS } from '../../common/sla-policy';

// SLA policies (admin): the targets a ticket is held to, matched by channel and team in `position` order
// (common/sla-policy.ts; db/service-levels.ts). Each target is kept as the admin wrote it ("15m") and in ms.

const slaPolicySchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    /** The channels whose tickets the policy applies to. */
    channelIds: { type: [String], default: [] },
    /** The tickets' teams it applies to; empty: any team, and tickets without one. */
    teamIds: { type: [String], default: [] },
    firstResponse: { type: String, default: null },
    firstResponseMs: { type: Number, default: null },
    nextResponse: { type: String, default: null },
    nextResponseMs: { type: Number, default: null },
    resolution: { type: String, default: null },
    resolutionMs: { type: Number, default: null },
    businessHours: { type: String, enum: SLA_BUSINESS_HOURS, default: 'channel' },
    warnAt: { type: Number, default: DEFAULT_SLA_WARN_AT },
    escalate: {
      notifyAgentIds: { type: [String], default: [] },
      toTeamId: { type: String, default: null },
      event: { type: Boolean, default: false },
    },
    /** The order policies are matched in (then createdAt): the first that matches a new ticket applies. */
    position: { type: Number, required: true },
  },
  { timestamps: true, versionKey: false },
);
slaPolicySchema.index({ position: 1, createdAt: 1 });

export const SlaPolicy = mongoose.model('SlaPolicy', slaPolicySchema, 'sla_policies');

export type SlaPolicyDoc = InferSchemaType<typeof slaPolicySchema>;
