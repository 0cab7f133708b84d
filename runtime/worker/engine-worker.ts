// Engine worker thread: loads the model, creates the runner, runs the scheduler loop, streams events.

import { parentPort, workerData } from 'node:worker_threads';
import { basename } from 'node:path';
import { EdgewiseError, isEdgewiseError } from '../errors.js';
import { EngineCore } from '../scheduler/engine-core.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { FakeRunner } from '../scheduler/fake-runner.js';
import type { DetokenizerLike } from '../scheduler/scheduler-types.js';
import type { BlockDecodeStats, ModelRunner } from '../engine/runner-types.js';
import type { GenerationEvent } from './engine-api.js';
import { AdaptiveEngine } from '../memory/adaptive-engine.js';
import { withSequenceOptions } from '../memory/adaptive-runner.js';
import { errorDoneEvent, type EngineWorkerData, type FromWorkerMessage, type ToWorkerMessage } from './worker-messages.js';

const port = parentPort!;
const data = workerData as EngineWorkerData;

function post(message: FromWorkerMessage): void {
  port.postMessage(message);
}

/** Blocks this thread like onnxruntime's synchronous run() does (fake engine only). */
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

function errorInfo(err: unknown): { kind: string; message: string; param: string | null } {
  if (isEdgewiseError(err)) return { kind: err.kind, message: err.message, param: err.param };
  return { kind: 'engine_fatal', message: err instanceof Error ? err.message : String(err), param: null };
}

/** The model id the API shows: the folder or file name without the container extension. */
function modelIdFromPath(path: string): string {
  return basename(path.replace(/[\\/]+$/, '')).replace(/\.ewm$/, '');
}

interface Engine {
  runner: ModelRunner;
  adaptive: AdaptiveEngine | null;
  detokenizer: DetokenizerLike | null;
  eosTokenIds: number[];
  maxContext: number;
  modelId: string;
  /** The weight provider's just-in-time decode totals (a .ewm container), for per-request accounting. */
  decodeStats?: BlockDecodeStats;
}

async function openEngine(): Promise<Engine> {
  if (data.fake) {
    const runner = new FakeRunner(data.fake.vocabSize, { maxSeqLen: data.fake.maxContext });
    return { runner, adaptive: null, detokenizer: null, eosTokenIds: [], maxContext: data.fake.maxContext, modelId: 'fake' };
  }
  // Imported lazily so the fake path never loads onnxruntime.
  const { loadModel } = await import('../model/load-model.js');
  const { createRunner } = await import('../engine/create-runner.js');
  // Under a memory budget the compressed store is budgeted too, so it is never read whole.
  const model = await loadModel(data.modelPath, { onDemandSegments: data.adaptive !== undefined && data.adaptive !== null });
  const maxContext = Math.min(model.config.maxPositionEmbeddings, data.maxContext ?? 4096);
  const adaptive = data.adaptive ? new AdaptiveEngine(model, { ...data.adaptive, maxSeqLen: maxContext, cacheBlocks: data.backend === 'cpu' }) : null;
  const weights = adaptive?.weights ?? model.weights;
  const runner = await createRunner(weights, { backend: data.backend, maxSeqLen: maxContext, threads: data.threads });
  const eosTokenIds = [...new Set([...model.config.eosTokenIds, ...(model.tokenizer?.eosTokenIds ?? [])])];
  return { runner, adaptive, detokenizer: model.tokenizer, eosTokenIds, maxContext, modelId: modelIdFromPath(data.modelPath), decodeStats: weights.decodeStats };
}

async function main(): Promise<void> {
  let engine: Engine;
  try {
    engine = await openEngine();
  } catch (err) {
    post({ type: 'fatal', error: errorInfo(err) });
    process.exit(1);
  }
  const scheduler = new Scheduler({
    maxBatch: data.maxBatch,
    maxQueue: data.maxQueue,
    maxContext: engine.maxContext,
    vocabSize: engine.runner.config.vocabSize,
    eosTokenIds: engine.eosTokenIds,
    detokenizer: engine.detokenizer,
    maxStepTokens: data.maxStepTokens,
  });
  const { adaptive } = engine;
  const runner =
    adaptive === null ? engine.runner : withSequenceOptions(engine.runner, (seqId) => adaptive.sequenceOptions(scheduler.reqIdOf(seqId)), (p) => adaptive.selectPrecision(p));
  const core = new EngineCore(runner, scheduler, engine.decodeStats);
  let looping = false;
  let closing = false;
  let steps = 0;

  const sendEvents = (events: GenerationEvent[]) => {
    if (events.length === 0) return;
    adaptive?.decorate(events);
    const { running, waiting } = scheduler.stats();
    post({ type: 'events', events, running, waiting });
  };

  const loop = async () => {
    looping = true;
    try {
      while (scheduler.hasWork() && !closing) {
        if (data.fake?.crashAfterSteps !== undefined && steps >= data.fake.crashAfterSteps) throw new Error('simulated engine crash');
        if (data.fake?.stepDelayMs) busyWait(data.fake.stepDelayMs);
        steps++;
        adaptive?.onStep();
        sendEvents(await core.step());
        // NOTE: onnxruntime's run() blocks this thread; yielding here lets submit/cancel messages in between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      post({ type: 'fatal', error: errorInfo(err) });
      process.exit(1);
    } finally {
      looping = false;
    }
    if (closing) await shutdown();
  };

  const shutdown = async () => {
    sendEvents(scheduler.abortAll('cancelled'));
    try {
      await engine.runner.dispose();
    } finally {
      post({ type: 'closed' });
      port.close();
    }
  };

  port.on('message', (msg: ToWorkerMessage) => {
    switch (msg.type) {
      case 'submit':
        try {
          adaptive?.admit(msg.req, { ...scheduler.stats(), maxBatch: data.maxBatch });
          scheduler.submit(msg.req, msg.submittedMs);
        } catch (err) {
          // The client checks the same limits first, so this is rare (a race with drain, say).
          const { kind, message } = errorInfo(err);
          sendEvents([errorDoneEvent(msg.req.reqId, msg.req.promptIds.length, msg.submittedMs, { kind, message })]);
        }
        break;
      case 'cancel':
        scheduler.cancel(msg.reqId);
        break;
      case 'drain':
        scheduler.startDrain();
        break;
      case 'budget':
      case 'adaptiveState':
        try {
          const state = adaptive === null ? null : msg.type === 'budget' ? adaptive.setBudget(msg.bytes) : adaptive.state();
          post({ type: 'adaptiveState', requestId: msg.requestId, state });
        } catch (err) {
          const { kind, message } = errorInfo(err);
          post({ type: 'adaptiveState', requestId: msg.requestId, state: null, error: { kind, message } });
        }
        return;
      case 'close':
        closing = true;
        if (!looping) void shutdown();
        return;
    }
    if (!looping && !closing) void loop();
  });

  const { config } = engine.runner;
  post({ type: 'ready', modelId: engine.modelId, config, maxContext: engine.maxContext, eosTokenIds: engine.eosTokenIds });
}

main().catch((err) => {
  post({ type: 'fatal', error: errorInfo(err instanceof Error ? err : new EdgewiseError('engine_fatal', String(err))) });
  process.exit(1);
});
