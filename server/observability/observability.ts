// The server's RequestObserver that feeds tracing and metrics, and its setup from options and OTEL_* env.

import type { FinishReason } from '../../runtime/worker/engine-api.js';
import type { RequestEndInfo, RequestObserver, RequestStartInfo } from '../observer.js';
import { createServerLogger, type Logger } from './logger.js';
import { ServerMetrics, type EngineStatsSnapshot } from './metrics.js';
import type { RequestEnd, RequestStart } from './request-record.js';
import { RequestTracer, tracingOptionsFromEnv, type RequestSpan, type TracingOptions } from './tracing.js';

export interface ObservabilityObserverOptions {
  tracer: RequestTracer | null;
  metrics: ServerMetrics | null;
  /**
   * Depth and precision reported when the engine does not say: until the governor lands every
   * request runs all `numLayers` blocks at the precision the weights are served in.
   */
  defaultDepth: number | null;
  defaultPrecision: string | null;
}


function endFinishReason(info: RequestEndInfo): FinishReason {
  if (info.status === 'error') return 'error';
  if (info.status === 'cancelled') return 'cancelled';
  // Several choices: 'length' if any was cut, else the shared reason.
  if (info.finishReasons.includes('length')) return 'length';
  return info.finishReasons[0] ?? 'stop';
}

export class ObservabilityObserver implements RequestObserver {
  /** Open request spans by reqId (empty when tracing is off). */
  private readonly live = new Map<string, RequestSpan>();

  constructor(private readonly options: ObservabilityObserverOptions) {}

  onQueued(info: RequestStartInfo): void {
    if (this.options.tracer === null) return;
    const start: RequestStart = {
      reqId: info.reqId,
      model: info.model,
      endpoint: info.endpoint,
      protocol: info.transport,
      promptTokens: info.promptTokens,
      startMs: info.startMs,
    };
    if (this.options.tracer !== null) this.live.set(info.reqId, this.options.tracer.start(start));
  }

  onTokens(info: { reqId: string; count: number; sinceLastMs: number | null }): void {
    const metrics = this.options.metrics;
    // The first delivery (sinceLastMs null) ends the time to first token; it is not an inter-token gap.
    // NOTE: a later gap of 0 (two deliveries in one event-loop turn) still counts.
    if (metrics === null || info.count <= 0 || info.sinceLastMs === null) return;
    // NOTE: a batch of n tokens after a gap of g counts as n gaps of g/n, like vLLM's per-token ITL.
    const gapMs = Math.max(0, info.sinceLastMs) / info.count;
    for (let i = 0; i < info.count; i++) metrics.recordInterTokenLatency(gapMs);
  }

  onDone(info: RequestEndInfo): void {
    const live = this.live.get(info.reqId);
    this.live.delete(info.reqId);
    const end: RequestEnd = {
      finishReason: endFinishReason(info),
      promptTokens: info.promptTokens,
      completionTokens: info.completionTokens,
      queueMs: info.queueMs,
      ttftMs: info.ttftMs,
      totalMs: info.totalMs,
      // The governor's choice (adaptive serving) when the engine made one.
      depth: info.adaptive?.depth ?? this.options.defaultDepth,
      precision: info.adaptive?.precision ?? this.options.defaultPrecision,
      blockDecode: info.blockDecode,
      error:
        info.error === undefined
          ? undefined
          : { type: info.error.type, message: info.error.message, cause: info.error.cause },
    };
    live?.end(end);
    this.options.metrics?.recordRequestEnd(end);
    // NOTE: the one log line per request is server/request-log.ts's observer; not repeated here.
  }

  /** Requests refused before they reached the engine (validation, queue full, auth). */
  onRejected(info: { type: string }): void {
    this.options.metrics?.recordError(info.type);
  }
}

export interface ObservabilitySetupOptions {
  model: string;
  /** The model's block count (the depth every request runs until depth switching exists). */
  numLayers: number | null;
  /** The precision the weights are served in ('fp32' for an uncompressed folder). */
  precision: string | null;
  engineStats: () => EngineStatsSnapshot | Promise<EngineStatsSnapshot>;
  logger?: Logger;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Overrides the OTEL_* environment (tests, benchmarks); null turns tracing off. */
  tracing?: TracingOptions | null;
  /** false turns metrics off (benchmarks measure the difference). */
  metrics?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Everything `serve` wires in: the observer to register, the /metrics source, and shutdown. */
export interface Observability {
  observer: ObservabilityObserver;
  logger: Logger;
  metrics: ServerMetrics | null;
  tracer: RequestTracer | null;
  shutdown(): Promise<void>;
}

export function createObservability(options: ObservabilitySetupOptions): Observability {
  const logger = options.logger ?? createServerLogger({ level: options.logLevel ?? 'info', model: options.model });
  const tracingOptions = options.tracing === undefined ? tracingOptionsFromEnv(options.env) : options.tracing;
  const tracer = tracingOptions === null ? null : new RequestTracer(tracingOptions);
  const metrics =
    options.metrics === false ? null : new ServerMetrics({ model: options.model, engineStats: options.engineStats });
  const observer = new ObservabilityObserver({
    tracer,
    metrics,
    defaultDepth: options.numLayers,
    defaultPrecision: options.precision,
  });
  if (tracer !== null) logger.info({ tracing: true }, 'OpenTelemetry tracing on (OTEL_* environment)');
  return {
    observer,
    logger,
    metrics,
    tracer,
    async shutdown() {
      await Promise.all([tracer?.shutdown(), metrics?.shutdown()]);
    },
  };
}
