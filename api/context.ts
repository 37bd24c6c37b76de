import type { Client } from '@temporalio/client';

/** What the API needs from the outside world; built once by api/main.ts or by a test. */
export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  publicBaseUrl: string;
  adminToken: string;
  replyWindowMs: number;
  windowHelpUrl: string;
}
