// One engine step: schedule → apply to the runner → run → update; the loop body of the worker.

import type { BlockDecodeStats, ModelRunner } from '../engine/runner-types.js';
import type { GenerationEvent } from '../worker/engine-api.js';
import type { Scheduler } from './scheduler.js';

export class EngineCore {
  readonly runner: ModelRunner;
  readonly scheduler: Scheduler;

  /** Running totals of the weight provider's just-in-time block decodes, when it has them. */
  private readonly decodeStats: BlockDecodeStats | undefined;

  constructor(runner: ModelRunner, scheduler: Scheduler, decodeStats?: BlockDecodeStats) {
    this.runner = runner;
    this.scheduler = scheduler;
    this.decodeStats = decodeStats;
  }

  /** Runs one step and returns the events it produced (possibly none). */
  async step(): Promise<GenerationEvent[]> {
    const plan = this.scheduler.schedule();
    this.freeFinished();
    if (plan.entries.length === 0 && plan.newSeqIds.length === 0) return plan.events;
    let events: GenerationEvent[];
    try {
      for (const seqId of plan.newSeqIds) this.runner.createSequence(seqId);
      const countBefore = this.decodeStats?.count ?? 0;
      const msBefore = this.decodeStats?.totalMs ?? 0;
      const logits = await this.runner.step(plan.entries);
      const stepDecode = this.decodeStats && { count: this.decodeStats.count - countBefore, totalMs: this.decodeStats.totalMs - msBefore };
      events = this.scheduler.update(plan, logits, stepDecode);
    } catch (err) {
      events = this.scheduler.failStep(plan, err);
    }
    // Free at once so an idle engine does not hold the KV caches of finished requests.
    this.freeFinished();
    return plan.events.length === 0 ? events : [...plan.events, ...events];
  }

  private freeFinished(): void {
    for (const seqId of this.scheduler.takeFreedSeqIds()) this.runner.freeSequence(seqId);
  }
}
