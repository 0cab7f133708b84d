// Prometheus metrics (vLLM-style names, `edgewise:` prefix) through the OpenTelemetry metrics SDK.

import { statSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { ValueType, type Attributes, type Histogram, type Counter } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { RequestEnd } from './request-record.js';

/** Content type of the text exposition format we serve at GET /metrics. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Engine state read at scrape time. `running`/`waiting` come from the scheduler; the optional
 * parts come from the block cache and memory governor once the engine has them.
 */
export interface EngineStatsSnapshot {
  running: number;
  waiting: number;
  /** Decompressed-block cache; absent for uncompressed (hf-folder) models, reported as 0. */
  blockCache?: { bytes: number; hits: number; misses: number };
  /** Memory governor (adaptive serving); absent → budget = the process's memory limit (cgroup, else RAM), use = RSS. */
  memory?: { budgetBytes: number; usedBytes: number };
}

// vLLM's bucket boundaries, extended downwards: a 6M-parameter model on a CPU answers in ms.
const LATENCY_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const E2E_BUCKETS_S = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240];
const BLOCK_DECODE_BUCKETS_S = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const DEPTH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/** A reader that only collects on demand: the server's own route serves the text (no second port). */
class PullReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** The memory limit this process runs under: cgroup v2 `memory.max` when set, else physical RAM. */
export function processMemoryLimitBytes(): number {
  try {
    const path = '/sys/fs/cgroup/memory.max';
    if (statSync(path).isFile()) {
      const text = readFileSync(path, 'utf8').trim();
      if (text !== 'max' && /^\d+$/.test(text)) return Math.min(Number(text), totalmem());
    }
  } catch {
    // no cgroup v2 file: fall through to physical memory
  }
  return totalmem();
}

export interface ServerMetricsOptions {
  model: string;
  /** Read at every scrape (engine-stats.ts builds it from an EngineClient). */
  engineStats: () => EngineStatsSnapshot | Promise<EngineStatsSnapshot>;
}

/** All of the server's metrics; record* methods are called from the request path. */
export class ServerMetrics {
  private readonly provider: MeterProvider;
  private readonly reader = new PullReader();
  // model_name rides on the resource and is stamped on every sample by the serializer.
  private readonly serializer = new PrometheusSerializer(undefined, false, /^model_name$/, true, true);
  /** NOTE: recording with no attributes is ~4x cheaper than with one (no per-call hashing); ITL runs per token. */
  private readonly attrs: Attributes = {};
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly queueTime: Histogram;
  private readonly prefillTime: Histogram;
  private readonly decodeTime: Histogram;
  private readonly blockDecode: Histogram;
  private readonly depth: Histogram;
  private readonly promptTokensHist: Histogram;
  private readonly generationTokensHist: Histogram;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly success: Counter;
  private readonly errors: Counter;
  private readonly precision: Counter;
  private lastDepth = 0;

  constructor(options: ServerMetricsOptions) {
    this.provider = new MeterProvider({ readers: [this.reader], resource: resourceFromAttributes({ model_name: options.model }) });
    const meter = this.provider.getMeter('edgewise');
    // NOTE: OpenTelemetry instrument names cannot hold ':', so instruments are named
    // `edgewise_*` and `scrape()` rewrites the prefix to vLLM's `edgewise:` form.
    const hist = (name: string, description: string, boundaries: number[], unit = 's'): Histogram =>
      meter.createHistogram(`edgewise_${name}`, { description, unit, advice: { explicitBucketBoundaries: boundaries } });
    const counter = (name: string, description: string): Counter =>
      meter.createCounter(`edgewise_${name}`, { description, valueType: ValueType.INT });
    this.ttft = hist('time_to_first_token_seconds', 'Time from submit to the first generated token.', LATENCY_BUCKETS_S);
    this.itl = hist('inter_token_latency_seconds', 'Time between consecutive generated tokens (per token).', LATENCY_BUCKETS_S);
    this.e2e = hist('e2e_request_latency_seconds', 'Time from submit to the end of the request.', E2E_BUCKETS_S);
    this.queueTime = hist('request_queue_time_seconds', 'Time a request waited for a scheduler slot.', E2E_BUCKETS_S);
    this.prefillTime = hist('request_prefill_time_seconds', 'Time from admission to the first token.', E2E_BUCKETS_S);
    this.decodeTime = hist('request_decode_time_seconds', 'Time from the first token to the end.', E2E_BUCKETS_S);
    this.blockDecode = hist(
      'block_decode_seconds',
      'Block decompression time per request, summed over its steps (only requests on compressed models).',
      BLOCK_DECODE_BUCKETS_S,
    );
    this.depth = hist('request_depth_layers', 'Transformer blocks run per request (the chosen depth).', DEPTH_BUCKETS, '1');
    this.promptTokensHist = hist('request_prompt_tokens', 'Prompt tokens per request.', TOKEN_BUCKETS, '1');
    this.generationTokensHist = hist('request_generation_tokens', 'Generated tokens per request.', TOKEN_BUCKETS, '1');
    this.promptTokens = counter('prompt_tokens_total', 'Prompt tokens processed.');
    this.generationTokens = counter('generation_tokens_total', 'Tokens generated.');
    this.success = counter('request_success_total', 'Requests ended, by finish reason.');
    this.errors = counter('request_errors_total', 'Failed requests, by error type.');
    this.precision = counter('request_precision_total', 'Requests by the weight precision they ran at.');

    const gauge = (name: string, description: string, unit = '1') =>
      meter.createObservableGauge(`edgewise_${name}`, { description, unit, valueType: ValueType.INT });
    const running = gauge('num_requests_running', 'Requests in the running batch.');
    const waiting = gauge('num_requests_waiting', 'Requests waiting in the queue.');
    const cacheBytes = gauge('block_cache_bytes', 'Bytes of decompressed blocks held in the block cache.', 'By');
    const budget = gauge('memory_budget_bytes', 'Memory budget the governor plans within.', 'By');
    const used = gauge('memory_used_bytes', 'Memory in use (governor accounting, else process RSS).', 'By');
    const lastDepth = gauge('depth_layers', 'Depth (blocks run) chosen for the most recent request.');
    const cacheHits = meter.createObservableCounter('edgewise_block_cache_hits_total', {
      description: 'Block lookups served from the decompressed-block cache.',
      valueType: ValueType.INT,
    });
    const cacheMisses = meter.createObservableCounter('edgewise_block_cache_misses_total', {
      description: 'Block lookups that had to decompress the block.',
      valueType: ValueType.INT,
    });
    const memoryLimit = processMemoryLimitBytes();
    const rss = gauge('process_resident_memory_bytes', 'Resident memory of the server process (main thread + engine worker).', 'By');
    meter.addBatchObservableCallback(
      async (result) => {
        const stats = await options.engineStats();
        result.observe(rss, process.memoryUsage.rss(), this.attrs);
        result.observe(running, stats.running, this.attrs);
        result.observe(waiting, stats.waiting, this.attrs);
        result.observe(cacheBytes, stats.blockCache?.bytes ?? 0, this.attrs);
        result.observe(cacheHits, stats.blockCache?.hits ?? 0, this.attrs);
        result.observe(cacheMisses, stats.blockCache?.misses ?? 0, this.attrs);
        result.observe(budget, stats.memory?.budgetBytes ?? memoryLimit, this.attrs);
        result.observe(used, stats.memory?.usedBytes ?? process.memoryUsage.rss(), this.attrs);
        result.observe(lastDepth, this.lastDepth, this.attrs);
      },
      [running, waiting, cacheBytes, cacheHits, cacheMisses, budget, used, lastDepth, rss],
    );
  }

  /** Called for every generated token after the first, with the gap since the previous one. */
  recordInterTokenLatency(gapMs: number): void {
    this.itl.record(gapMs / 1000, this.attrs);
  }

  /** Called once per request when it ends. */
  recordRequestEnd(result: RequestEnd): void {
    const a = this.attrs;
    this.e2e.record(result.totalMs / 1000, a);
    this.queueTime.record(result.queueMs / 1000, a);
    this.promptTokens.add(result.promptTokens, a);
    this.generationTokens.add(result.completionTokens, a);
    this.promptTokensHist.record(result.promptTokens, a);
    this.generationTokensHist.record(result.completionTokens, a);
    if (result.ttftMs !== null) {
      this.ttft.record(result.ttftMs / 1000, a);
      this.prefillTime.record(Math.max(0, result.ttftMs - result.queueMs) / 1000, a);
      this.decodeTime.record(Math.max(0, result.totalMs - result.ttftMs) / 1000, a);
    }
    if (result.depth !== null) {
      this.depth.record(result.depth, a);
      this.lastDepth = result.depth;
    }
    if (result.precision !== null) this.precision.add(1, { ...a, precision: result.precision });
    if (result.blockDecode !== undefined && result.blockDecode.count > 0) {
      this.blockDecode.record(result.blockDecode.totalMs / 1000, a);
    }
    this.success.add(1, { ...a, finished_reason: result.finishReason });
    if (result.error !== undefined) this.recordError(result.error.type);
  }

  /** Requests that failed before reaching the engine (validation, queue full) count here too. */
  recordError(type: string): void {
    this.errors.add(1, { ...this.attrs, type });
  }

  /** The Prometheus text exposition of every metric. */
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metrics collection failed');
    const text = this.serializer.serialize(resourceMetrics);
    return text.replace(/^(# (?:HELP|TYPE|UNIT) )?edgewise_/gm, '$1edgewise:');
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
