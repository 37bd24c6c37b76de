import mongoose, { type InferSchemaType, Schema } from 'mongoose';
import { ASSIGNMENT_MODES, DEFAULT_AGENT_CAPACITY, DEFAULT_STICKY_DAYS } from '../../common/teams';

// Teams (admin): members answering a set of channels, and how their tickets are assigned (common/teams.ts).

const memberSchema = new Schema(
  { agentId: { type: String, required: true }, capacity: { type: Number, default: null } },
  { _id: false },
);

const teamSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    channelIds: { type: [String], default: [] },
    members: { type: [memberSchema], default: [] },
    assignment: {
      mode: { type: String, enum: ASSIGNMENT_MODES, default: 'manual' },
      capacity: { type: Number, default: DEFAULT_AGENT_CAPACITY },
      sticky: {
        enabled: { type: Boolean, default: false },
        days: { type: Number, default: DEFAULT_STICKY_DAYS },
      },
    },
    /** Set by DELETE /api/teams/:id: tickets keep naming the team for their history; it takes no new ones. */
    deletedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);
teamSchema.index({ 'members.agentId': 1 });

export const Team = mongoose.model('Team', teamSchema, 'teams');

export type TeamDoc = InferSchemaType<typeof teamSchema>;
