export { dialogBatchWorkflow } from './batch';
export { conversationWorkflow } from './conversation';
