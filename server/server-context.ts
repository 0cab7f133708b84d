// State shared by every route of one server: the engine, options, readiness and live sessions.

import type { Logger } from 'pino';
import { EdgewiseError } from '../runtime/errors.js';
import type { ServingEngine } from './engine-port.js';
import type { GenerationSession } from './generation-session.js';
import type { ObserverSet } from './observer.js';

export interface ServerContext {
  engine: ServingEngine;
  /** The id clients pass as `model` (the model folder/file basename unless --model-id). */
  modelId: string;
  /** Bearer token required on API routes; null disables auth. */
  apiKey: string | null;
  maxBodyBytes: number;
  /** Per-request deadline; null means none. */
  requestTimeoutMs: number | null;
  /** Idle gap after which an SSE stream gets a `: ping` comment. */
  pingIntervalMs: number;
  /** Per WebSocket: buffered bytes above which deliveries pause and queue. */
  wsHighWaterBytes: number;
  /** Per WebSocket or SSE stream: bytes queued for a slow reader past which its request ends. */
  maxPendingBytes: number;
  observers: ObserverSet;
  logger: Logger;
  /** True once draining began: new requests get 503. */
  draining: boolean;
  /** Sessions that have not ended yet (drain waits for them). */
  sessions: Set<GenerationSession>;
  /** Unix seconds the model was loaded, for /v1/models. */
  createdAt: number;
}

/** Refuses new work while draining. */
export function checkAdmission(ctx: ServerContext): void {
  if (ctx.draining) throw new EdgewiseError('unavailable', 'the server is shutting down and takes no new requests');
}
