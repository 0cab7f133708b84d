// End to end on a real server with the scripted engine: GET /metrics after a few requests, and the span tree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { FakeEngine } from '../fake-engine.js';
import { startTestServer, postJson } from '../test-helpers.js';
import { EdgewiseWsClient } from '../client/ws-client.js';
import { createObservability } from './observability.js';
import { metricsRoute } from './metrics-route.js';
import { createServerLogger } from './logger.js';
import { parsePrometheusText, sumSamples, hasSample } from './prometheus-text.js';
import { REQUEST_SPAN_NAME } from './tracing.js';

test('GET /metrics after SSE, JSON, WebSocket and refused requests shows every metric with plausible values', async () => {
  const engine = new FakeEngine({ stepMs: 3 });
  const exporter = new InMemorySpanExporter();
  const obs = createObservability({
    model: engine.modelId, numLayers: engine.config.numLayers, precision: 'fp32', engineStats: () => engine.stats(),
    logger: createServerLogger({ level: 'silent' }), tracing: { exporter, synchronous: true },
  });
  const srv = await startTestServer({ engine, observers: [obs.observer], extraRoutes: [metricsRoute(obs.metrics!)] });
  try {
    const body = { model: engine.modelId, prompt: 'hello there', max_tokens: 6 };
    const sse = await postJson(`${srv.url}/v1/completions`, { ...body, stream: true, stream_options: { include_usage: true } });
    assert.equal(sse.status, 200);
    const plain = await postJson(`${srv.url}/v1/chat/completions`, { model: engine.modelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    assert.equal(plain.status, 200);
    const ws = await EdgewiseWsClient.connect(srv.url.replace('http', 'ws') + '/v1/ws');
    const wsResult = await ws.request('completion', { ...body, max_tokens: 5 }).collect();
    assert.equal(wsResult.status, 'completed');
    await ws.close();
    const bad = await postJson(`${srv.url}/v1/completions`, { ...body, max_tokens: -1 });
    assert.equal(bad.status, 400);

    const res = await fetch(`${srv.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const s = parsePrometheusText(await res.text());
    const m = { model_name: engine.modelId };
    const completion = plain.json.usage.completion_tokens + 6 + 5;
    assert.equal(sumSamples(s, 'edgewise:e2e_request_latency_seconds_count', m), 3);
    assert.equal(sumSamples(s, 'edgewise:time_to_first_token_seconds_count', m), 3);
    const ttftSum = sumSamples(s, 'edgewise:time_to_first_token_seconds_sum', m);
    assert.ok(ttftSum > 0 && ttftSum < 3, `TTFT sum ${ttftSum}s`);
    const e2eSum = sumSamples(s, 'edgewise:e2e_request_latency_seconds_sum', m);
    assert.ok(e2eSum >= ttftSum && e2eSum < 5);
    const itlCount = sumSamples(s, 'edgewise:inter_token_latency_seconds_count', m);
    assert.equal(itlCount, completion - 3, 'one gap per token after each first token');
    const itlMean = sumSamples(s, 'edgewise:inter_token_latency_seconds_sum', m) / itlCount;
    assert.ok(itlMean > 0.001 && itlMean < 0.5, `mean ITL ${itlMean}s with 3 ms steps`);
    assert.equal(sumSamples(s, 'edgewise:request_queue_time_seconds_count', m), 3);
    assert.equal(sumSamples(s, 'edgewise:generation_tokens_total', m), completion);
    assert.ok(sumSamples(s, 'edgewise:prompt_tokens_total', m) >= 3 * 2);
    assert.equal(sumSamples(s, 'edgewise:num_requests_running', m), 0);
    assert.equal(sumSamples(s, 'edgewise:num_requests_waiting', m), 0);
    assert.equal(sumSamples(s, 'edgewise:request_depth_layers_sum', m), 3 * engine.config.numLayers);
    assert.equal(sumSamples(s, 'edgewise:depth_layers', m), engine.config.numLayers);
    assert.equal(sumSamples(s, 'edgewise:request_precision_total', { precision: 'fp32' }), 3);
    assert.equal(sumSamples(s, 'edgewise:request_errors_total', { type: 'invalid_request_error' }), 1);
    assert.equal(sumSamples(s, 'edgewise:block_cache_bytes', m), 0);
    assert.ok(hasSample(s, 'edgewise:block_cache_hits_total') && hasSample(s, 'edgewise:block_cache_misses_total'));
    assert.ok(sumSamples(s, 'edgewise:memory_used_bytes', m) > 10 * 1024 * 1024);
    assert.ok(sumSamples(s, 'edgewise:memory_budget_bytes', m) > sumSamples(s, 'edgewise:memory_used_bytes', m));

    // The same requests as spans: one root per request, each with its phase children.
    const spans = exporter.getFinishedSpans();
    const roots = spans.filter((x) => x.name === REQUEST_SPAN_NAME);
    assert.deepEqual(roots.map((r) => r.attributes['edgewise.protocol']).sort(), ['http', 'sse', 'ws']);
    for (const root of roots) {
      const kids = spans.filter((x) => x.parentSpanContext?.spanId === root.spanContext().spanId).map((x) => x.name).sort();
      assert.deepEqual(kids, ['edgewise.decode', 'edgewise.prefill', 'edgewise.queue']);
      assert.ok((root.attributes['gen_ai.usage.output_tokens'] as number) > 0);
    }
  } finally {
    await srv.close();
    await obs.shutdown();
  }
});
