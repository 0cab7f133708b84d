// Metrics: after a few requests the Prometheus text holds every edgewise: metric with plausible values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerMetrics } from './metrics.js';
import { ObservabilityObserver } from './observability.js';
import { hasSample, parsePrometheusText, sumSamples } from './prometheus-text.js';

test('scrape after a few requests: names, types, counts and sums are right', async () => {
  let stats = { running: 2, waiting: 1 };
  const metrics = new ServerMetrics({ model: 'tiny', engineStats: () => stats });
  const observer = new ObservabilityObserver({ tracer: null, metrics, defaultDepth: 4, defaultPrecision: 'fp32',
  });
  const base = { endpoint: 'chat' as const, transport: 'sse' as const, model: 'tiny', numChoices: 1 };
  for (let i = 0; i < 3; i++) {
    const reqId = `r${i}`;
    observer.onQueued({ ...base, reqId, promptTokens: 10 + i, startMs: Date.now() });
    observer.onTokens({ reqId, count: 1, sinceLastMs: null });
    observer.onTokens({ reqId, count: 2, sinceLastMs: 20 }); // two gaps of 10 ms
    observer.onTokens({ reqId, count: 1, sinceLastMs: 30 });
    observer.onDone({
      ...base, reqId, status: 'ok', finishReasons: ['length'], promptTokens: 10 + i, completionTokens: 4,
      ttftMs: 50, totalMs: 100 + i, queueMs: 5,
    });
  }
  observer.onQueued({ ...base, reqId: 'bad', promptTokens: 3, startMs: Date.now() });
  observer.onDone({
    ...base, reqId: 'bad', status: 'error', finishReasons: ['error'], promptTokens: 3, completionTokens: 0,
    ttftMs: null, totalMs: 7, queueMs: 1, error: { status: 500, type: 'server_error', message: 'x' },
  });
  observer.onRejected({ type: 'rate_limit_error' });
  const text = await metrics.scrape();
  const s = parsePrometheusText(text);
  const m = { model_name: 'tiny' };

  assert.match(text, /^# TYPE edgewise:time_to_first_token_seconds histogram$/m);
  assert.ok(!/^edgewise_/m.test(text), 'every metric carries the edgewise: prefix');
  // Histograms: count = observations, sum = total seconds.
  assert.equal(sumSamples(s, 'edgewise:time_to_first_token_seconds_count', m), 3);
  assert.ok(Math.abs(sumSamples(s, 'edgewise:time_to_first_token_seconds_sum', m) - 0.15) < 1e-9);
  assert.equal(sumSamples(s, 'edgewise:inter_token_latency_seconds_count', m), 9);
  assert.ok(Math.abs(sumSamples(s, 'edgewise:inter_token_latency_seconds_sum', m) - 3 * (0.02 + 0.03)) < 1e-9);
  assert.equal(sumSamples(s, 'edgewise:e2e_request_latency_seconds_count', m), 4);
  assert.ok(Math.abs(sumSamples(s, 'edgewise:e2e_request_latency_seconds_sum', m) - (0.1 + 0.101 + 0.102 + 0.007)) < 1e-9);
  assert.equal(sumSamples(s, 'edgewise:request_queue_time_seconds_count', m), 4);
  const le = (name: string, bound: string) => s.find((x) => x.name === `${name}_bucket` && x.labels.le === bound)?.value;
  assert.equal(le('edgewise:inter_token_latency_seconds', '0.01'), 6, 'the six 10 ms gaps fall in le=0.01');
  assert.equal(le('edgewise:inter_token_latency_seconds', '+Inf'), 9);
  assert.equal(sumSamples(s, 'edgewise:request_depth_layers_count', m), 4);
  assert.equal(sumSamples(s, 'edgewise:request_depth_layers_sum', m), 16);
  // Counters.
  assert.equal(sumSamples(s, 'edgewise:prompt_tokens_total', m), 10 + 11 + 12 + 3);
  assert.equal(sumSamples(s, 'edgewise:generation_tokens_total', m), 12);
  assert.equal(sumSamples(s, 'edgewise:request_success_total', { finished_reason: 'length' }), 3);
  assert.equal(sumSamples(s, 'edgewise:request_success_total', { finished_reason: 'error' }), 1);
  assert.equal(sumSamples(s, 'edgewise:request_errors_total', { type: 'server_error' }), 1);
  assert.equal(sumSamples(s, 'edgewise:request_errors_total', { type: 'rate_limit_error' }), 1);
  assert.equal(sumSamples(s, 'edgewise:request_precision_total', { precision: 'fp32' }), 4);
  // Gauges read from the engine at scrape time.
  assert.equal(sumSamples(s, 'edgewise:num_requests_running', m), 2);
  assert.equal(sumSamples(s, 'edgewise:num_requests_waiting', m), 1);
  assert.equal(sumSamples(s, 'edgewise:depth_layers', m), 4);
  assert.equal(sumSamples(s, 'edgewise:block_cache_bytes', m), 0, 'no block cache on an uncompressed model');
  assert.ok(hasSample(s, 'edgewise:block_cache_hits_total') && hasSample(s, 'edgewise:block_cache_misses_total'));
  const rss = process.memoryUsage.rss();
  const used = sumSamples(s, 'edgewise:memory_used_bytes', m);
  assert.ok(used > rss / 2 && used < rss * 2, `memory use ${used} is the process RSS (~${rss})`);
  assert.ok(sumSamples(s, 'edgewise:memory_budget_bytes', m) >= used);

  // Engine-provided cache and governor figures replace the fallbacks.
  stats = Object.assign({ running: 0, waiting: 0 }, {
    blockCache: { bytes: 123456, hits: 40, misses: 8 }, memory: { budgetBytes: 5e8, usedBytes: 2e8 },
  });
  const s2 = parsePrometheusText(await metrics.scrape());
  assert.equal(sumSamples(s2, 'edgewise:num_requests_running', m), 0);
  assert.equal(sumSamples(s2, 'edgewise:block_cache_bytes', m), 123456);
  assert.equal(sumSamples(s2, 'edgewise:block_cache_hits_total', m), 40);
  assert.equal(sumSamples(s2, 'edgewise:block_cache_misses_total', m), 8);
  assert.equal(sumSamples(s2, 'edgewise:memory_budget_bytes', m), 5e8);
  assert.equal(sumSamples(s2, 'edgewise:memory_used_bytes', m), 2e8);
  await metrics.shutdown();
});

test('the Prometheus text parser reads labels, escapes and infinities', () => {
  const s = parsePrometheusText('# HELP a x\na_bucket{le="+Inf",q="a\\"b"} 3\nb 1.5e-3\nc{} NaN\n');
  assert.deepEqual(s[0], { name: 'a_bucket', labels: { le: '+Inf', q: 'a"b' }, value: 3 });
  assert.equal(s[1].value, 0.0015);
  assert.ok(Number.isNaN(s[2].value));
  assert.throws(() => parsePrometheusText('not a sample line at all'), SyntaxError);
});

test('block decode time, depth and precision reported by the engine are recorded as given', async () => {
  const metrics = new ServerMetrics({ model: 'c', engineStats: () => ({ running: 0, waiting: 0 }) });
  metrics.recordRequestEnd({
    finishReason: 'stop', promptTokens: 4, completionTokens: 3, queueMs: 0, ttftMs: 10, totalMs: 30, depth: 5, precision: 'int4',
    blockDecode: { count: 40, totalMs: 8 },
  });
  metrics.recordRequestEnd({ finishReason: 'stop', promptTokens: 4, completionTokens: 3, queueMs: 0, ttftMs: 10, totalMs: 30, depth: 7, precision: 'bf16' });
  const s = parsePrometheusText(await metrics.scrape());
  assert.equal(sumSamples(s, 'edgewise:block_decode_seconds_count'), 1, 'only the request that decoded blocks');
  assert.ok(Math.abs(sumSamples(s, 'edgewise:block_decode_seconds_sum') - 0.008) < 1e-12);
  assert.equal(sumSamples(s, 'edgewise:request_depth_layers_sum'), 12);
  assert.equal(sumSamples(s, 'edgewise:depth_layers'), 7, 'the gauge holds the latest depth');
  assert.equal(sumSamples(s, 'edgewise:request_precision_total', { precision: 'int4' }), 1);
  assert.equal(sumSamples(s, 'edgewise:request_precision_total', { precision: 'bf16' }), 1);
  await metrics.shutdown();
});

test('inter-token gaps of 0 ms (two deliveries in one event-loop turn) still count; only the first delivery of each request is skipped', async () => {
  const metrics = new ServerMetrics({ model: 'z', engineStats: () => ({ running: 0, waiting: 0 }) });
  const observer = new ObservabilityObserver({ tracer: null, metrics, defaultDepth: 1, defaultPrecision: null });
  const base = { reqId: 'q', endpoint: 'completion' as const, transport: 'sse' as const };
  observer.onQueued({ ...base, model: 'z', promptTokens: 2, numChoices: 1, startMs: Date.now() });
  observer.onTokens({ reqId: 'q', count: 1, sinceLastMs: null }); // first token: TTFT, not a gap
  observer.onTokens({ reqId: 'q', count: 1, sinceLastMs: 0 }); // same millisecond as the first
  observer.onTokens({ reqId: 'q', count: 1, sinceLastMs: 2 });
  observer.onTokens({ reqId: 'q', count: 1, sinceLastMs: 0 });
  observer.onDone({ ...base, status: 'ok', finishReasons: ['length'], promptTokens: 2, completionTokens: 4, ttftMs: 1, totalMs: 3, queueMs: 0 });
  // A second request reusing nothing of the first: its first delivery is skipped again.
  observer.onQueued({ ...base, reqId: 'r', model: 'z', promptTokens: 2, numChoices: 1, startMs: Date.now() });
  observer.onTokens({ reqId: 'r', count: 1, sinceLastMs: null });
  observer.onDone({ ...base, reqId: 'r', status: 'ok', finishReasons: ['length'], promptTokens: 2, completionTokens: 1, ttftMs: 1, totalMs: 1, queueMs: 0 });
  const s = parsePrometheusText(await metrics.scrape());
  assert.equal(sumSamples(s, 'edgewise:inter_token_latency_seconds_count'), 3, 'tokens - 1 gaps, zeros included');
  assert.ok(Math.abs(sumSamples(s, 'edgewise:inter_token_latency_seconds_sum') - 0.002) < 1e-12);
  const le1ms = s.find((x) => x.name === 'edgewise:inter_token_latency_seconds_bucket' && x.labels.le === '0.001')?.value;
  assert.equal(le1ms, 2);
  await metrics.shutdown();
});
