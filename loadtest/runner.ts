// Runs one load-test scenario (closed loop at a concurrency, or Poisson arrivals) and records a timeline.

import { performance } from 'node:perf_hooks';
import { Prng } from '../runtime/generation/prng.js';
import { sumSamples, type PromSample } from '../server/observability/prometheus-text.js';
import { createProgress } from '../bin/cli-util.js';
import { currentBudgetBytes, scrapeMetrics, setBudget } from './server-api.js';
import { summarize, type RequestResult, type RunSummary } from './stats.js';
import type { Transport } from './transports.js';

export interface ScenarioOptions {
  baseUrl: string;
  apiKey?: string;
  /** Closed loop with this many in flight; with `rate`, the cap on requests in flight (null: none). */
  concurrency: number | null;
  /** Poisson arrivals per second; null for a closed loop. */
  rate: number | null;
  prompts: string[];
  maxTokens: number;
  seed: number;
  scrapeIntervalMs: number;
  /** Lower the budget once half the requests were sent: a fraction (< 1) of the current budget, or bytes. */
  memoryPressure: number | null;
  label: string;
}

/** One scrape of the server's gauges, and the mean depth of requests finished since the last one. */
export interface TimelinePoint {
  tMs: number;
  running: number;
  waiting: number;
  memoryUsedBytes: number;
  memoryBudgetBytes: number;
  depthMean: number | null;
  /** Requests finished since the last scrape, by the weight precision they ran at (the governor's other choice). */
  precisions: Record<string, number>;
}

export interface ScenarioEvent {
  tMs: number;
  kind: 'memory-pressure' | 'note';
  ok: boolean;
  message: string;
}

export interface ScenarioResult {
  label: string;
  concurrency: number | null;
  rate: number | null;
  results: RequestResult[];
  durationMs: number;
  summary: RunSummary;
  timeline: TimelinePoint[];
  events: ScenarioEvent[];
}

/** Scrapes /metrics on a timer; stays silent (empty timeline) when the server has none. */
class TimelineRecorder {
  readonly points: TimelinePoint[] = [];
  available = true;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private prevDepth = { sum: 0, count: 0 };
  private prevPrecisions: Record<string, number> = {};
  last: PromSample[] | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly t0: number,
  ) {}

  async sample(): Promise<void> {
    if (this.busy || !this.available) return;
    this.busy = true;
    try {
      const s = await scrapeMetrics(this.baseUrl);
      if (s === null) {
        this.available = false;
        return;
      }
      this.last = s;
      const depth = { sum: sumSamples(s, 'edgewise:request_depth_layers_sum'), count: sumSamples(s, 'edgewise:request_depth_layers_count') };
      const dCount = depth.count - this.prevDepth.count;
      const precisionTotals: Record<string, number> = {};
      for (const x of s) {
        if (x.name === 'edgewise:request_precision_total' && x.labels.precision !== undefined) {
          precisionTotals[x.labels.precision] = (precisionTotals[x.labels.precision] ?? 0) + x.value;
        }
      }
      const precisions: Record<string, number> = {};
      for (const [name, total] of Object.entries(precisionTotals)) {
        const delta = total - (this.prevPrecisions[name] ?? 0);
        if (delta > 0) precisions[name] = delta;
      }
      this.points.push({
        tMs: performance.now() - this.t0,
        running: sumSamples(s, 'edgewise:num_requests_running'),
        waiting: sumSamples(s, 'edgewise:num_requests_waiting'),
        memoryUsedBytes: sumSamples(s, 'edgewise:memory_used_bytes'),
        memoryBudgetBytes: sumSamples(s, 'edgewise:memory_budget_bytes'),
        depthMean: dCount > 0 ? (depth.sum - this.prevDepth.sum) / dCount : null,
        precisions,
      });
      this.prevDepth = depth;
      this.prevPrecisions = precisionTotals;
    } finally {
      this.busy = false;
    }
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export async function runScenario(transport: Transport, opts: ScenarioOptions): Promise<ScenarioResult> {
  const total = opts.prompts.length;
  const results: RequestResult[] = new Array(total);
  const events: ScenarioEvent[] = [];
  const t0 = performance.now();
  const timeline = new TimelineRecorder(opts.baseUrl, t0);
  await timeline.sample();
  const budgetBefore = timeline.last === null ? null : currentBudgetBytes(timeline.last);
  timeline.start(opts.scrapeIntervalMs);
  const progress = createProgress(opts.label, total);
  let finished = 0;
  let started = 0;
  let pressureApplied = false;

  const maybeApplyPressure = async (): Promise<void> => {
    if (opts.memoryPressure === null || pressureApplied || started < Math.ceil(total / 2)) return;
    pressureApplied = true;
    const tMs = performance.now() - t0;
    const target = opts.memoryPressure < 1 ? (budgetBefore === null ? null : budgetBefore * opts.memoryPressure) : opts.memoryPressure;
    if (target === null) {
      events.push({ tMs, kind: 'memory-pressure', ok: false, message: 'no edgewise:memory_budget_bytes on /metrics to take a fraction of; memory-pressure step skipped' });
      return;
    }
    const r = await setBudget(opts.baseUrl, target, opts.apiKey);
    events.push({ tMs, kind: 'memory-pressure', ok: r.ok, message: r.message });
  };

  const sendOne = async (index: number): Promise<void> => {
    started++;
    void maybeApplyPressure();
    const startMs = performance.now() - t0;
    const r = await transport.send({ prompt: opts.prompts[index], maxTokens: opts.maxTokens });
    results[index] = { ...r, startMs };
    finished++;
    progress.update(finished);
  };

  try {
    if (opts.rate === null) {
      const workers = Math.max(1, opts.concurrency ?? 1);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(workers, total) }, async () => {
          for (let i = next++; i < total; i = next++) await sendOne(i);
        }),
      );
    } else {
      const rng = new Prng(opts.seed ^ 0x2545f491);
      const cap = opts.concurrency ?? Infinity;
      const inflight = new Set<Promise<void>>();
      for (let i = 0; i < total; i++) {
        // Exponential gaps make the arrivals a Poisson process of rate `rate`.
        const gapMs = (-Math.log(1 - rng.nextFloat()) / opts.rate) * 1000;
        await new Promise((r) => setTimeout(r, gapMs));
        while (inflight.size >= cap) await Promise.race(inflight);
        const p: Promise<void> = sendOne(i).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
    }
  } finally {
    progress.stop();
    timeline.stop();
  }
  const durationMs = performance.now() - t0;
  await timeline.sample();
  if (pressureApplied && budgetBefore !== null && events.some((e) => e.kind === 'memory-pressure' && e.ok)) {
    const r = await setBudget(opts.baseUrl, budgetBefore, opts.apiKey);
    events.push({ tMs: performance.now() - t0, kind: 'memory-pressure', ok: r.ok, message: `restored: ${r.message}` });
    await timeline.sample(); // the timeline ends on the restored budget
  }
  if (!timeline.available) events.push({ tMs: 0, kind: 'note', ok: false, message: 'GET /metrics not available: no server-side timeline' });
  return {
    label: opts.label,
    concurrency: opts.concurrency,
    rate: opts.rate,
    results,
    durationMs,
    summary: summarize(results, durationMs),
    timeline: timeline.points,
    events,
  };
}
