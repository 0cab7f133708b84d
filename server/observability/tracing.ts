// OpenTelemetry tracing: one span per request with child spans for queue, prefill, decode, block decompression.

import { context, trace, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { RequestEnd, RequestStart } from './request-record.js';

export const REQUEST_SPAN_NAME = 'edgewise.request';

export interface TracingOptions {
  /** Where spans go. Tests pass an InMemorySpanExporter. */
  exporter: SpanExporter;
  /** Export each span as it ends (tests) instead of batching (production). */
  synchronous?: boolean;
  serviceName?: string;
}

/**
 * Reads the standard OTEL_* variables and returns tracing options, or null when tracing is off.
 * On when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT) or
 * OTEL_TRACES_EXPORTER names 'otlp' or 'console'; off when OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none. The OTLP exporter itself reads the endpoint, headers and timeout.
 */
export function tracingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): TracingOptions | null {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return null;
  const names = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (names.includes('none')) return null;
  const hasEndpoint = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const serviceName = env.OTEL_SERVICE_NAME || 'edgewise';
  if (names.includes('console')) return { exporter: new ConsoleSpanExporter(), serviceName };
  if (names.includes('otlp') || hasEndpoint) return { exporter: new OTLPTraceExporter(), serviceName };
  return null;
}

/** Starts and ends request spans; one per server process. */
export class RequestTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(options: TracingOptions) {
    const processor: SpanProcessor = options.synchronous
      ? new SimpleSpanProcessor(options.exporter)
      : new BatchSpanProcessor(options.exporter);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'edgewise' }),
      spanProcessors: [processor],
    });
    // NOTE: not registered as the global provider: the server owns this tracer explicitly,
    // and tests can build several side by side.
    this.tracer = this.provider.getTracer('edgewise');
  }

  /** Opens the request span at submit time. */
  start(info: RequestStart): RequestSpan {
    const span = this.tracer.startSpan(REQUEST_SPAN_NAME, {
      startTime: info.startMs,
      attributes: {
        'edgewise.request_id': info.reqId,
        'edgewise.protocol': info.protocol,
        // GenAI semantic conventions: 'chat' for chat completions, 'text_completion' for /v1/completions.
        'gen_ai.operation.name': info.endpoint === 'chat' ? 'chat' : 'text_completion',
        'gen_ai.request.model': info.model,
        'gen_ai.usage.input_tokens': info.promptTokens,
      },
    });
    return new RequestSpan(this.tracer, span, info.startMs);
  }

  async forceFlush(): Promise<void> {
    await this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** One request's span; its children are written at the end from the engine's timings. */
export class RequestSpan {
  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly startMs: number,
  ) {}

  /**
   * Closes the request span. NOTE: the engine runs in a worker and reports its phase timings
   * once, at the end; the child spans are created after the fact with explicit start and end
   * times, which costs nothing per token.
   */
  end(result: RequestEnd): void {
    const { span, startMs } = this;
    const endMs = startMs + result.totalMs;
    span.setAttributes({
      'gen_ai.usage.input_tokens': result.promptTokens,
      'gen_ai.usage.output_tokens': result.completionTokens,
      'gen_ai.response.finish_reasons': [result.finishReason],
      'edgewise.queue_ms': result.queueMs,
      'edgewise.total_ms': result.totalMs,
    });
    if (result.ttftMs !== null) span.setAttribute('edgewise.ttft_ms', result.ttftMs);
    if (result.depth !== null) span.setAttribute('edgewise.depth', result.depth);
    if (result.precision !== null) span.setAttribute('edgewise.precision', result.precision);

    const parent = trace.setSpan(context.active(), span);
    const admitMs = startMs + Math.min(result.queueMs, result.totalMs);
    this.child(parent, 'edgewise.queue', startMs, admitMs, {});
    const firstTokenMs = result.ttftMs === null ? endMs : startMs + result.ttftMs;
    this.child(parent, 'edgewise.prefill', admitMs, firstTokenMs, { 'edgewise.prompt_tokens': result.promptTokens });
    if (result.ttftMs !== null) {
      this.child(parent, 'edgewise.decode', firstTokenMs, endMs, {
        'edgewise.completion_tokens': result.completionTokens,
      });
    }
    if (result.blockDecode !== undefined) {
      // Aggregated: one span whose duration is the summed decode time of all blocks the
      // request's steps decoded, anchored at admission (not one span per block per token).
      this.child(parent, 'edgewise.block_decompression', admitMs, admitMs + result.blockDecode.totalMs, {
        'edgewise.block_decode.count': result.blockDecode.count,
        'edgewise.block_decode.total_ms': result.blockDecode.totalMs,
      });
    }
    if (result.error !== undefined) {
      span.setAttribute('error.type', result.error.type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.message });
      if (result.error.cause !== undefined) span.recordException({ name: result.error.type, message: result.error.message, stack: result.error.cause }, endMs);
    }
    span.end(endMs);
  }

  private child(
    parent: ReturnType<typeof context.active>,
    name: string,
    fromMs: number,
    toMs: number,
    attributes: Record<string, number>,
  ): void {
    const child = this.tracer.startSpan(name, { startTime: fromMs, attributes }, parent);
    child.end(Math.max(fromMs, toMs));
  }
}
