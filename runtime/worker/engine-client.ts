// EngineClient: the caller-side handle of the engine worker (submit, cancel, stats, drain, close).

import { SHARE_ENV, Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { EdgewiseError, type ErrorKind } from '../errors.js';
import type { AdaptiveState } from '../memory/adaptive-engine.js';
import type { ModelConfig } from '../model/model-config.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { ChatTemplate } from '../model/chat-template.js';
import { validateRequest } from '../scheduler/request-validation.js';
import type { GenerationEvent, GenerationRequest } from './engine-api.js';
import { errorDoneEvent, type EngineWorkerData, type FromWorkerMessage, type ToWorkerMessage, type WorkerReady } from './worker-messages.js';

export interface StartEngineOptions {
  modelPath: string;
  backend?: 'cpu' | 'webgpu';
  /** Most sequences decoding together. */
  maxBatch: number;
  /** Most requests waiting beyond maxBatch; past that `submit` throws 'queue_full'. */
  maxQueue: number;
  /** CPU threads of the engine; default engineThreadsDefault() (all cores but the server's). */
  threads?: number;
  /** Cap on prompt + completion tokens per request; default min(model context, 4096). */
  maxContext?: number;
  /** Token budget per engine step (long prompts are prefilled in chunks of it); default 512. */
  maxStepTokens?: number;
  /** Adaptive serving (memory budget, governor, block cache); off when absent. */
  adaptive?: EngineWorkerData['adaptive'];
  /** Tests only: see EngineWorkerData.fake. */
  fake?: EngineWorkerData['fake'];
}

interface Pending {
  onEvent: (event: GenerationEvent) => void;
  promptTokens: number;
  submittedMs: number;
}

/**
 * Lives on the caller's thread; the model, scheduler and sampler run in a worker so that
 * onnxruntime's synchronous run() never blocks sockets. Admission (queue limit, prompt length)
 * is checked here so `submit` can throw synchronously, with the same rules the scheduler applies.
 */
export class EngineClient {
  readonly modelId: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer | null;
  readonly chatTemplate: ChatTemplate | null;
  /** Largest prompt + completion length in tokens. */
  readonly maxContext: number;
  /** Ids the engine stops on by itself (config + tokenizer EOS). */
  readonly eosTokenIds: number[];
  private readonly worker: Worker;
  private readonly capacity: number;
  private readonly pending = new Map<string, Pending>();
  private running = 0;
  private draining = false;
  private closed = false;
  private fatal: EdgewiseError | null = null;
  private readonly fatalListeners: ((err: EdgewiseError) => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private readonly exited: Promise<void>;
  private readonly stateWaiters = new Map<number, { resolve: (s: AdaptiveState | null) => void; reject: (e: EdgewiseError) => void }>();
  private nextStateRequest = 1;

  /** Use `startEngine`. */
  constructor(worker: Worker, ready: WorkerReady, assets: { tokenizer: Tokenizer | null; chatTemplate: ChatTemplate | null }, options: StartEngineOptions) {
    this.worker = worker;
    this.modelId = ready.modelId;
    this.config = ready.config;
    this.maxContext = ready.maxContext;
    this.eosTokenIds = ready.eosTokenIds;
    this.tokenizer = assets.tokenizer;
    this.chatTemplate = assets.chatTemplate;
    this.capacity = options.maxBatch + options.maxQueue;
    worker.on('message', (msg: FromWorkerMessage) => this.onMessage(msg));
    worker.on('error', (err) => this.die(`engine worker crashed: ${err.message}`));
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        if (!this.closed) this.die(`engine worker exited unexpectedly (code ${code})`);
        resolve();
      }),
    );
  }

  /** The engine-fatal error once the worker has died, else null. */
  get fatalError(): EdgewiseError | null {
    return this.fatal;
  }

  /** Called once if the engine dies (after every pending request got its 'error' done event). */
  onFatal(listener: (err: EdgewiseError) => void): void {
    this.fatalListeners.push(listener);
  }

  /**
   * Queues a request; events arrive through `onEvent`, ending with one 'done'. Throws
   * InvalidRequestError (prompt too long, bad ids), EdgewiseError 'queue_full',
   * 'unavailable' (draining or closed) or 'engine_fatal' (the worker died).
   */
  submit(req: GenerationRequest, onEvent: (event: GenerationEvent) => void): void {
    if (this.fatal) throw this.fatal;
    if (this.closed || this.draining) throw new EdgewiseError('unavailable', 'the engine is draining or closed and admits no new requests');
    if (this.pending.has(req.reqId)) throw new EdgewiseError('invalid_request', `request id ${req.reqId} is already in flight`, { param: 'reqId' });
    validateRequest(req, { maxContext: this.maxContext, vocabSize: this.config.vocabSize });
    if (this.pending.size >= this.capacity) {
      throw new EdgewiseError('queue_full', `the engine queue is full (${this.pending.size} requests in flight)`);
    }
    const submittedMs = Date.now();
    this.pending.set(req.reqId, { onEvent, promptTokens: req.promptIds.length, submittedMs });
    this.send({ type: 'submit', req, submittedMs });
  }

  /** Stops a request; its slot is free by the next engine step and it ends with finishReason 'cancelled'. */
  cancel(reqId: string): void {
    if (this.pending.has(reqId) && !this.fatal) this.send({ type: 'cancel', reqId });
  }

  stats(): { running: number; waiting: number } {
    const running = Math.min(this.running, this.pending.size);
    return { running, waiting: this.pending.size - running };
  }

  /**
   * Adaptive serving's state (null when off). With `budget`, first sets the operator budget in
   * bytes (null = machine limits only); the block cache shrinks before this resolves.
   */
  adaptiveState(budget?: { bytes: number | null }): Promise<AdaptiveState | null> {
    if (this.fatal || this.closed) return Promise.reject(this.fatal ?? new EdgewiseError('unavailable', 'the engine is closed'));
    const requestId = this.nextStateRequest++;
    this.send(budget === undefined ? { type: 'adaptiveState', requestId } : { type: 'budget', bytes: budget.bytes, requestId });
    return new Promise((resolve, reject) => this.stateWaiters.set(requestId, { resolve, reject }));
  }

  /** Stops admitting; resolves once every accepted request has ended. */
  drain(): Promise<void> {
    if (!this.draining && !this.fatal && !this.closed) {
      this.draining = true;
      this.send({ type: 'drain' });
    }
    return this.pending.size === 0 ? Promise.resolve() : new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Cancels whatever is still running, disposes the runner and ends the worker. */
  async close(): Promise<void> {
    if (this.closed) return this.exited;
    this.closed = true;
    if (this.fatal) return this.exited;
    this.send({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  private send(message: ToWorkerMessage): void {
    this.worker.postMessage(message);
  }

  private onMessage(msg: FromWorkerMessage): void {
    switch (msg.type) {
      case 'events':
        this.running = msg.running;
        for (const event of msg.events) this.deliver(event);
        break;
      case 'fatal':
        this.die(msg.error.message);
        break;
      case 'closed':
        void this.worker.terminate();
        break;
      case 'ready':
        break;
      case 'adaptiveState': {
        const waiter = this.stateWaiters.get(msg.requestId);
        this.stateWaiters.delete(msg.requestId);
        if (msg.error) waiter?.reject(new EdgewiseError(msg.error.kind as ErrorKind, msg.error.message));
        else waiter?.resolve(msg.state);
        break;
      }
    }
  }

  private deliver(event: GenerationEvent): void {
    const p = this.pending.get(event.reqId);
    if (!p) return;
    if (event.type === 'done') this.pending.delete(event.reqId);
    try {
      p.onEvent(event);
    } catch (err) {
      // NOTE: a throwing listener must not take the process (and every other request) down with it;
      // its request is cancelled so the slot frees, and the error is reported as a warning.
      process.emitWarning(`EngineClient: the event listener of request ${event.reqId} threw: ${(err as Error)?.message ?? String(err)}`);
      if (event.type === 'delta') this.cancel(event.reqId);
    }
    if (event.type === 'done') this.checkDrained();
  }

  private checkDrained(): void {
    if (this.pending.size > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** The worker is gone: every pending request ends with an 'error' done event; later submits throw. */
  private die(message: string): void {
    if (this.fatal) return;
    this.fatal = new EdgewiseError('engine_fatal', message);
    const pending = [...this.pending];
    this.pending.clear();
    for (const [reqId, p] of pending) p.onEvent(errorDoneEvent(reqId, p.promptTokens, p.submittedMs, { kind: 'engine_fatal', message }));
    this.checkDrained();
    for (const w of this.stateWaiters.values()) w.reject(this.fatal);
    this.stateWaiters.clear();
    for (const listener of this.fatalListeners) listener(this.fatal);
    void this.worker.terminate();
  }
}

/** Starts the engine worker, loads tokenizer and template on this thread meanwhile, resolves when the model is ready. */
export async function startEngine(options: StartEngineOptions): Promise<EngineClient> {
  for (const key of ['maxBatch', 'maxQueue'] as const) {
    const v = options[key];
    if (!Number.isInteger(v) || v < (key === 'maxBatch' ? 1 : 0)) throw new EdgewiseError('invalid_request', `${key} must be an integer ≥ ${key === 'maxBatch' ? 1 : 0}, got ${v}`, { param: key });
  }
  const data: EngineWorkerData = {
    modelPath: options.modelPath,
    backend: options.backend ?? 'cpu',
    maxBatch: options.maxBatch,
    maxQueue: options.maxQueue,
    threads: options.threads ?? engineThreadsDefault(),
    maxContext: options.maxContext,
    maxStepTokens: options.maxStepTokens,
    adaptive: options.adaptive,
    fake: options.fake,
  };
  // Tokenizer and template are plain JS objects that cannot cross threads; each side loads its own copy.
  const assetsPromise = options.fake
    ? Promise.resolve({ tokenizer: null, chatTemplate: null })
    : import('../model/load-model.js').then((m) => m.loadTokenizerAndTemplate(options.modelPath));
  // NOTE: SHARE_ENV so the webgpu backend's VK_ICD_FILENAMES fallback (SwiftShader) reaches the native Vulkan loader.
  const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: data, env: SHARE_ENV });
  const ready = new Promise<WorkerReady>((resolve, reject) => {
    const onMessage = (msg: FromWorkerMessage) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve(msg);
      } else if (msg.type === 'fatal') {
        cleanup();
        reject(new EdgewiseError(msg.error.kind as EdgewiseError['kind'], msg.error.message, { param: msg.error.param }));
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new EdgewiseError('engine_fatal', `engine worker failed to start: ${err.message}`, { cause: err }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new EdgewiseError('engine_fatal', `engine worker exited during startup (code ${code})`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  try {
    const [readyMsg, assets] = await Promise.all([ready, assetsPromise]);
    return new EngineClient(worker, readyMsg, assets, options);
  } catch (err) {
    await worker.terminate();
    throw err;
  }
}

/**
 * NOTE: the engine's default thread count leaves one core to the server's own thread (HTTP,
 * SSE, detokenizing). On the 2-core box, serve-bench at 16 streams gave 3010-3045 tokens/s with
 * one engine thread against 2350-2420 with two (alternating runs): the engine's second thread
 * and the event loop fought over the same cores.
 */
export function engineThreadsDefault(): number {
  return Math.max(1, availableParallelism() - 1);
}
