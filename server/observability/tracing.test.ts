// Tracing: an in-memory exporter sees the request span tree with its attributes and timings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanStatusCode } from '@opentelemetry/api';
import { RequestTracer, REQUEST_SPAN_NAME, tracingOptionsFromEnv } from './tracing.js';
import { ObservabilityObserver } from './observability.js';

function ms(t: [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

function setup() {
  const exporter = new InMemorySpanExporter();
  const tracer = new RequestTracer({ exporter, synchronous: true });
  const observer = new ObservabilityObserver({
    tracer,
    metrics: null,
    defaultDepth: 4,
    defaultPrecision: 'fp32',
  });
  return { exporter, tracer, observer };
}

test('a finished request yields a request span with queue, prefill, decode and block children', async () => {
  const { exporter, tracer, observer } = setup();
  const startMs = Date.now() - 500;
  observer.onQueued({ reqId: 'chatcmpl-a', endpoint: 'chat', transport: 'sse', model: 'tiny', promptTokens: 17, numChoices: 1, startMs });
  observer.onTokens({ reqId: 'chatcmpl-a', count: 1, sinceLastMs: null });
  const info = {
    reqId: 'chatcmpl-a', endpoint: 'chat' as const, transport: 'sse' as const, status: 'ok' as const,
    finishReasons: ['length' as const], promptTokens: 17, completionTokens: 9, ttftMs: 120, totalMs: 400, queueMs: 30,
    adaptive: { depth: 3, numLayers: 4, precision: 'bf16', why: 'test' }, blockDecode: { count: 27, totalMs: 45 },
  };
  observer.onDone(info);
  await tracer.forceFlush();
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === REQUEST_SPAN_NAME) as ReadableSpan;
  assert.ok(root, 'request span exported');
  assert.equal(root.attributes['gen_ai.request.model'], 'tiny');
  assert.equal(root.attributes['gen_ai.operation.name'], 'chat');
  assert.equal(root.attributes['gen_ai.usage.input_tokens'], 17);
  assert.equal(root.attributes['gen_ai.usage.output_tokens'], 9);
  assert.deepEqual(root.attributes['gen_ai.response.finish_reasons'], ['length']);
  assert.equal(root.attributes['edgewise.ttft_ms'], 120);
  assert.equal(root.attributes['edgewise.depth'], 3, 'engine-reported depth wins over the default');
  assert.equal(root.attributes['edgewise.precision'], 'bf16');
  assert.ok(Math.abs(ms(root.startTime) - startMs) < 1);
  assert.ok(Math.abs(ms(root.duration) - 400) < 1);

  const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
  const byName = new Map(children.map((s) => [s.name, s]));
  assert.deepEqual([...byName.keys()].sort(), ['edgewise.block_decompression', 'edgewise.decode', 'edgewise.prefill', 'edgewise.queue']);
  for (const child of children) assert.equal(child.spanContext().traceId, root.spanContext().traceId);
  const dur = (name: string) => ms(byName.get(name)!.duration);
  assert.ok(Math.abs(dur('edgewise.queue') - 30) < 1);
  assert.ok(Math.abs(dur('edgewise.prefill') - 90) < 1);
  assert.ok(Math.abs(dur('edgewise.decode') - 280) < 1);
  assert.ok(Math.abs(dur('edgewise.block_decompression') - 45) < 1);
  assert.equal(byName.get('edgewise.block_decompression')!.attributes['edgewise.block_decode.count'], 27);
  // Children sit inside the parent and follow each other.
  assert.ok(ms(byName.get('edgewise.prefill')!.startTime) >= ms(byName.get('edgewise.queue')!.startTime));
  assert.ok(Math.abs(ms(byName.get('edgewise.decode')!.startTime) - (startMs + 120)) < 1);
  await tracer.shutdown();
});

test('a failed request without tokens has error status, no decode span, and default depth/precision', async () => {
  const { exporter, tracer, observer } = setup();
  observer.onQueued({ reqId: 'cmpl-b', endpoint: 'completion', transport: 'ws', model: 'tiny', promptTokens: 5, numChoices: 1, startMs: Date.now() });
  observer.onDone({
    reqId: 'cmpl-b', endpoint: 'completion', transport: 'ws', status: 'error', finishReasons: ['error'],
    promptTokens: 5, completionTokens: 0, ttftMs: null, totalMs: 12, queueMs: 2,
    error: { status: 500, type: 'server_error', message: 'engine broke' },
  });
  await tracer.forceFlush();
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === REQUEST_SPAN_NAME)!;
  assert.equal(root.status.code, SpanStatusCode.ERROR);
  assert.equal(root.attributes['error.type'], 'server_error');
  assert.equal(root.attributes['gen_ai.operation.name'], 'text_completion', 'a /v1/completions request');
  assert.equal(root.attributes['edgewise.depth'], 4);
  assert.equal(root.attributes['edgewise.precision'], 'fp32');
  assert.deepEqual(spans.map((s) => s.name).sort(), [REQUEST_SPAN_NAME, 'edgewise.prefill', 'edgewise.queue'].sort());
  assert.equal(root.events.length, 0, 'no exception event without an engine cause');
  await tracer.shutdown();
});

test('an engine failure with a cause records it on the request span as an exception with its stack', async () => {
  const { exporter, tracer, observer } = setup();
  observer.onQueued({ reqId: 'cmpl-c', endpoint: 'chat', transport: 'sse', model: 'tiny', promptTokens: 5, numChoices: 1, startMs: Date.now() });
  const stack = 'Error: checksum mismatch\n    at EwmFile.checkSegment (ewm-reader.js:1:1)';
  observer.onDone({
    reqId: 'cmpl-c', endpoint: 'chat', transport: 'sse', status: 'error', finishReasons: ['error'],
    promptTokens: 5, completionTokens: 0, ttftMs: null, totalMs: 12, queueMs: 2,
    error: { status: 500, type: 'server_error', message: 'checksum mismatch', cause: stack },
  });
  await tracer.forceFlush();
  const root = exporter.getFinishedSpans().find((s) => s.name === REQUEST_SPAN_NAME)!;
  assert.deepEqual(root.events.map((e) => [e.name, e.attributes?.['exception.message'], e.attributes?.['exception.stacktrace']]), [['exception', 'checksum mismatch', stack]]);
  await tracer.shutdown();
});

test('tracing is off without OTEL_* variables and on with an OTLP endpoint', () => {
  assert.equal(tracingOptionsFromEnv({}), null);
  assert.equal(tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }), null);
  assert.equal(tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
  const on = tracingOptionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces', OTEL_SERVICE_NAME: 'edge-a' });
  assert.ok(on !== null);
  assert.equal(on.serviceName, 'edge-a');
  assert.equal(on.exporter.constructor.name, 'OTLPTraceExporter');
  assert.equal(tracingOptionsFromEnv({ OTEL_TRACES_EXPORTER: 'console' })?.exporter.constructor.name, 'ConsoleSpanExporter');
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are POSTed as OTLP/HTTP to <endpoint>/v1/traces', async () => {
  const { createServer } = await import('node:http');
  const received: { url: string; type: string; bytes: number }[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      received.push({ url: req.url ?? '', type: String(req.headers['content-type']), bytes });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  try {
    const options = tracingOptionsFromEnv(process.env);
    assert.ok(options !== null);
    const tracer = new RequestTracer(options);
    tracer.start({ reqId: 'x', model: 'tiny', endpoint: 'completion', protocol: 'sse', promptTokens: 3, startMs: Date.now() }).end({
      finishReason: 'stop', promptTokens: 3, completionTokens: 2, queueMs: 1, ttftMs: 4, totalMs: 9, depth: 2, precision: 'fp32',
    });
    await tracer.forceFlush();
    await tracer.shutdown();
  } finally {
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    server.close();
  }
  assert.ok(received.length >= 1, 'the collector got an export');
  assert.equal(received[0].url, '/v1/traces');
  assert.match(received[0].type, /application\/(json|x-protobuf)/);
  assert.ok(received[0].bytes > 100);
});
