// Continuous-batching scheduler: queue, admission, per-step batch plan, token updates; no I/O.

import { EdgewiseError, InvalidRequestError } from '../errors.js';
import type { EngineFailure, GenerationEvent, GenerationRequest } from '../worker/engine-api.js';
import { Sequence, type SequenceLimits } from './sequence.js';
import { validateRequest } from './request-validation.js';
import type { SchedulerOptions, SchedulerOutput, SchedulerStats, ScheduledSeq } from './scheduler-types.js';

/**
 * vLLM-style split: `schedule()` picks the step's batch, the engine runs it, `update()` turns
 * the logits into tokens and events. Requests join the running batch at step boundaries, up to
 * `maxBatch`; finished, cancelled and timed-out sequences leave it and their KV caches are freed
 * (`takeFreedSeqIds`) before the next step runs.
 */
export class Scheduler {
  private readonly opts: Required<Omit<SchedulerOptions, 'detokenizer'>> & Pick<SchedulerOptions, 'detokenizer'>;
  private readonly limits: SequenceLimits;
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly byReqId = new Map<string, Sequence>();
  private readonly cancelled = new Set<string>();
  private freed: number[] = [];
  private nextSeqId = 1;
  private draining = false;

  constructor(options: SchedulerOptions) {
    for (const key of ['maxBatch', 'maxContext', 'vocabSize'] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) throw new RangeError(`${key} must be a positive integer, got ${options[key]}`);
    }
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError(`maxQueue must be ≥ 0, got ${options.maxQueue}`);
    this.opts = { ...options, maxStepTokens: options.maxStepTokens ?? 512, now: options.now ?? Date.now };
    if (!Number.isInteger(this.opts.maxStepTokens) || this.opts.maxStepTokens < 1) throw new RangeError(`maxStepTokens must be a positive integer, got ${this.opts.maxStepTokens}`);
    this.limits = {
      maxContext: options.maxContext,
      vocabSize: options.vocabSize,
      eosTokenIds: options.eosTokenIds,
      detokenizer: options.detokenizer,
    };
  }

  /**
   * Queues a request. Throws InvalidRequestError for a prompt that leaves no room in the context
   * or bad ids, EdgewiseError 'queue_full' past maxBatch + maxQueue in flight, 'unavailable' while draining.
   */
  submit(req: GenerationRequest, submittedMs: number = this.opts.now()): void {
    if (this.draining) throw new EdgewiseError('unavailable', 'the engine is draining and admits no new requests');
    this.validate(req);
    if (this.running.length + this.waiting.length >= this.opts.maxBatch + this.opts.maxQueue) {
      throw new EdgewiseError('queue_full', `the queue is full (${this.opts.maxBatch} running, ${this.opts.maxQueue} waiting)`);
    }
    const seq = new Sequence(req, this.nextSeqId++, submittedMs, this.limits);
    this.waiting.push(seq);
    this.byReqId.set(req.reqId, seq);
  }

  private validate(req: GenerationRequest): void {
    if (this.byReqId.has(req.reqId)) throw new InvalidRequestError(`request id ${req.reqId} is already in flight`, 'reqId');
    validateRequest(req, this.limits);
  }

  /** Marks a request for cancellation; it leaves the batch (slot and KV freed) at the next `schedule()`. Unknown ids are ignored. */
  cancel(reqId: string): void {
    if (this.byReqId.has(reqId)) this.cancelled.add(reqId);
  }

  /** Stop admitting new submits; accepted requests still run to completion. */
  startDrain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Whether any request is waiting or running. */
  hasWork(): boolean {
    return this.running.length + this.waiting.length > 0;
  }

  stats(): SchedulerStats {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  /** The request id of a running sequence (the engine looks up per-request runner options by it). */
  reqIdOf(seqId: number): string | undefined {
    return this.running.find((s) => s.seqId === seqId)?.req.reqId;
  }

  /** Sequence ids whose KV caches the runner should free now (finished since the last call). */
  takeFreedSeqIds(): number[] {
    const out = this.freed;
    this.freed = [];
    return out;
  }

  /** Plans one step: drops cancelled and expired requests, admits waiting ones, builds the batch. */
  schedule(): SchedulerOutput {
    const now = this.opts.now();
    const events: GenerationEvent[] = [];
    this.reap(now, events);

    const newSeqIds: number[] = [];
    while (this.running.length < this.opts.maxBatch && this.waiting.length > 0) {
      const seq = this.waiting.shift()!;
      seq.admit(now);
      this.running.push(seq);
      newSeqIds.push(seq.seqId);
    }

    // Decodes first (one token each, always run), then prompt chunks in admission order within the budget.
    const entries: SchedulerOutput['entries'] = [];
    const scheduled: ScheduledSeq[] = [];
    let budget = this.opts.maxStepTokens;
    for (const seq of this.running) {
      if (seq.isPrefilling) continue;
      const input = seq.nextInput(1);
      entries.push({ seqId: seq.seqId, tokenIds: input.tokenIds });
      scheduled.push({ seqId: seq.seqId, reqId: seq.req.reqId, samples: true });
      budget--;
    }
    for (const seq of this.running) {
      if (!seq.isPrefilling) continue;
      // NOTE: one prompt chunk always runs when nothing else would, so a step never stalls.
      if (budget <= 0 && entries.length > 0) break;
      const input = seq.nextInput(budget);
      entries.push({ seqId: seq.seqId, tokenIds: input.tokenIds });
      scheduled.push({ seqId: seq.seqId, reqId: seq.req.reqId, samples: input.samples });
      budget -= input.tokenIds.length;
    }
    return { newSeqIds, entries, scheduled, events };
  }

  /** Applies the runner's logits (one row per entry, in order): sample, detokenize, stop checks, events. */
  update(output: SchedulerOutput, logits: Float32Array[], stepDecode?: { count: number; totalMs: number }): GenerationEvent[] {
    if (logits.length !== output.entries.length) {
      throw new EdgewiseError('engine_fatal', `runner returned ${logits.length} logits rows for ${output.entries.length} entries`);
    }
    const now = this.opts.now();
    const events: GenerationEvent[] = [];
    output.scheduled.forEach((s, i) => {
      const seq = this.byReqId.get(s.reqId);
      if (!seq || seq.seqId !== s.seqId || seq.finishReason !== null) return;
      seq.advance(output.entries[i].tokenIds.length);
      if (stepDecode !== undefined && stepDecode.count > 0) seq.chargeBlockDecode(stepDecode);
      if (!s.samples) return;
      try {
        events.push(seq.acceptLogits(logits[i], now));
      } catch (err) {
        seq.finish('error', { kind: 'engine_fatal', message: `sampling failed: ${(err as Error).message}`, cause: stackOf(err) });
      }
      if (seq.finishReason !== null) this.retire(seq, now, events);
    });
    return events;
  }

  /** The runner failed this step: every sequence in the batch ends with an error event. */
  failStep(output: SchedulerOutput, err: unknown): GenerationEvent[] {
    const now = this.opts.now();
    const events: GenerationEvent[] = [];
    const kind = err instanceof EdgewiseError ? err.kind : 'engine_fatal';
    const message = err instanceof Error ? err.message : String(err);
    const cause = stackOf(err);
    for (const s of output.scheduled) {
      const seq = this.byReqId.get(s.reqId);
      if (!seq || seq.seqId !== s.seqId || seq.finishReason !== null) continue;
      seq.finish('error', { kind, message, cause });
      this.retire(seq, now, events);
    }
    return events;
  }

  /** Ends every request (engine shutting down or broken) with the given reason. */
  abortAll(reason: 'cancelled' | 'error', error?: EngineFailure): GenerationEvent[] {
    const now = this.opts.now();
    const events: GenerationEvent[] = [];
    for (const seq of [...this.running, ...this.waiting]) {
      seq.finish(reason, error);
      this.retire(seq, now, events);
    }
    return events;
  }

  private reap(now: number, events: GenerationEvent[]): void {
    for (const seq of [...this.running, ...this.waiting]) {
      if (this.cancelled.has(seq.req.reqId)) seq.finish('cancelled');
      else if (seq.req.deadlineMs !== null && now >= seq.req.deadlineMs) seq.finish('timeout');
      if (seq.finishReason !== null) this.retire(seq, now, events);
    }
    this.cancelled.clear();
  }

  /** Removes a finished sequence from the queues, frees its KV slot, emits its done event. */
  private retire(seq: Sequence, now: number, events: GenerationEvent[]): void {
    const r = this.running.indexOf(seq);
    if (r >= 0) {
      this.running.splice(r, 1);
      this.freed.push(seq.seqId);
    } else {
      const w = this.waiting.indexOf(seq);
      if (w >= 0) this.waiting.splice(w, 1);
    }
    this.byReqId.delete(seq.req.reqId);
    events.push(seq.doneEvent(now));
  }
}

/** The stack of a thrown error (with its cause chain), for the operator's log. */
function stackOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const causeStack = stackOf(err.cause);
  return causeStack === undefined ? err.stack : `${err.stack}\ncaused by: ${causeStack}`;
}
