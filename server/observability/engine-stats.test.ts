// Engine stats for /metrics: scheduler counts always, governor budget and block cache with adaptive serving.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineStatsSource } from './engine-stats.js';
import { ServerMetrics } from './metrics.js';
import { ObservabilityObserver } from './observability.js';
import { parsePrometheusText, sumSamples } from './prometheus-text.js';

test('adaptive state becomes cache and governed-memory figures; without it only the counts', async () => {
  const plain = engineStatsSource({ stats: () => ({ running: 3, waiting: 1 }) });
  assert.deepEqual(await plain(), { running: 3, waiting: 1 });
  const off = engineStatsSource({ stats: () => ({ running: 0, waiting: 0 }), adaptiveState: async () => null });
  assert.deepEqual(await off(), { running: 0, waiting: 0 });
  const on = engineStatsSource({
    stats: () => ({ running: 2, waiting: 0 }),
    adaptiveState: async () => ({ budgetBytes: 9e6, kvReservedBytes: 1e6, cache: { usedBytes: 3e6, hits: 17, misses: 5 } }),
  });
  assert.deepEqual(await on(), { running: 2, waiting: 0, blockCache: { bytes: 3e6, hits: 17, misses: 5 }, memory: { budgetBytes: 9e6, usedBytes: 4e6 } });
});

test('the governor choice on a finished request sets depth and precision in /metrics', async () => {
  const metrics = new ServerMetrics({ model: 'm', engineStats: engineStatsSource({ stats: () => ({ running: 0, waiting: 0 }) }) });
  const observer = new ObservabilityObserver({ tracer: null, metrics, defaultDepth: 6, defaultPrecision: 'fp32' });
  const base = { reqId: 'a', endpoint: 'chat' as const, transport: 'ws' as const };
  observer.onQueued({ ...base, model: 'm', promptTokens: 4, numChoices: 1, startMs: Date.now() });
  observer.onDone({
    ...base, status: 'ok', finishReasons: ['stop'], promptTokens: 4, completionTokens: 2, ttftMs: 5, totalMs: 9, queueMs: 0,
    adaptive: { depth: 3, numLayers: 6, precision: 'bf16', why: 'budget' },
  });
  const s = parsePrometheusText(await metrics.scrape());
  assert.equal(sumSamples(s, 'edgewise:request_depth_layers_sum'), 3);
  assert.equal(sumSamples(s, 'edgewise:request_precision_total', { precision: 'bf16' }), 1);
  assert.ok(sumSamples(s, 'edgewise:process_resident_memory_bytes') > 1e7);
  await metrics.shutdown();
});
