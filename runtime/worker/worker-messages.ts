// Typed messages between EngineClient (caller's thread) and the engine worker (structured clone, no JSON).

import type { ModelConfig } from '../model/model-config.js';
import type { GenerationEvent, GenerationRequest } from './engine-api.js';
import type { AdaptiveState } from '../memory/adaptive-engine.js';
import type { Quality } from '../memory/governor.js';

type DoneEvent = Extract<GenerationEvent, { type: 'done' }>;

/** What the worker is started with (`workerData`). */
export interface EngineWorkerData {
  modelPath: string;
  backend: 'cpu' | 'webgpu';
  maxBatch: number;
  maxQueue: number;
  threads?: number;
  /** Cap on prompt + output tokens per sequence (the KV capacity); default min(model context, 4096). */
  maxContext?: number;
  /** Token budget of one step (prompt chunks + decodes); see SchedulerOptions.maxStepTokens. */
  maxStepTokens?: number;
  /** Adaptive serving (runtime/memory): bytes for decoded blocks, held store segments and KV caches (null = machine limits) and the default quality. */
  adaptive?: { budgetBytes: number | null; defaultQuality?: Quality };
  /**
   * Tests only: run the scheduler on FakeRunner (hashed logits over `vocabSize` ids, no model
   * files). `stepDelayMs` blocks the worker thread per step (as onnxruntime's run() does);
   * `crashAfterSteps` makes the loop throw when that many steps have run.
   */
  fake?: { vocabSize: number; maxContext: number; stepDelayMs?: number; crashAfterSteps?: number };
}

/** Caller → worker. */
export type ToWorkerMessage =
  /** `submittedMs` is the caller's Date.now() at submit, so queue time includes the hop. */
  | { type: 'submit'; req: GenerationRequest; submittedMs: number }
  | { type: 'cancel'; reqId: string }
  | { type: 'drain' }
  /** Admin: new memory budget (null = machine limits only); answered with 'adaptiveState'. */
  | { type: 'budget'; bytes: number | null; requestId: number }
  | { type: 'adaptiveState'; requestId: number }
  /** Cancel everything, dispose the runner, exit. */
  | { type: 'close' };

export interface WorkerReady {
  type: 'ready';
  modelId: string;
  config: ModelConfig;
  maxContext: number;
  /** The EOS ids the engine stops on (config + tokenizer). */
  eosTokenIds: number[];
}

/** Worker → caller. */
export type FromWorkerMessage =
  | WorkerReady
  /** Events of one step, in order, with the scheduler's counts after the step. */
  | { type: 'events'; events: GenerationEvent[]; running: number; waiting: number }
  /** Loading or the loop failed; the worker exits after sending this. */
  | { type: 'fatal'; error: { kind: string; message: string; param: string | null } }
  | { type: 'closed' }
  /** Answer to 'budget' / 'adaptiveState' (state null without adaptive serving, error when refused). */
  | { type: 'adaptiveState'; requestId: number; state: AdaptiveState | null; error?: { kind: string; message: string } };

/** The 'done' event of a request that ends in an error before producing tokens (refused by the worker, or the worker died). */
export function errorDoneEvent(reqId: string, promptTokens: number, submittedMs: number, error: { kind: string; message: string }): DoneEvent {
  const elapsedMs = Date.now() - submittedMs;
  return {
    type: 'done',
    reqId,
    finishReason: 'error',
    text: '',
    usage: { promptTokens, completionTokens: 0 },
    timings: { queueMs: elapsedMs, ttftMs: -1, totalMs: elapsedMs },
    error,
  };
}
