// Load-test statistics against hand-computed values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdfPoints, distribution, percentileSorted, summarize, tpotMs, type RequestResult } from './stats.js';

test('percentiles interpolate like numpy', () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentileSorted(v, 50), 5.5);
  assert.ok(Math.abs(percentileSorted(v, 90) - 9.1) < 1e-12);
  assert.ok(Math.abs(percentileSorted(v, 99) - 9.91) < 1e-12);
  const d = distribution([10, 1, 7, 3]);
  assert.equal(d.mean, 5.25);
  assert.equal(d.median, 5);
  assert.equal(d.min, 1);
  assert.equal(d.max, 10);
});

test('summary counts failures apart and computes throughput, TPOT and ITL', () => {
  const r = (over: Partial<RequestResult>): RequestResult => ({
    ok: true, startMs: 0, ttftMs: 100, itlMs: [10, 30], e2eMs: 140, promptTokens: 20, outputTokens: 3, ...over,
  });
  const results = [r({}), r({ ttftMs: 200, e2eMs: 300, outputTokens: 5, itlMs: [25, 25, 25, 25] }), r({ ok: false, error: 'HTTP 500', outputTokens: 0 })];
  const s = summarize(results, 2000);
  assert.equal(s.completed, 2);
  assert.equal(s.failed, 1);
  assert.equal(s.totalOutputTokens, 8);
  assert.equal(s.requestThroughput, 1);
  assert.equal(s.outputThroughput, 4);
  assert.equal(s.totalTokenThroughput, 24);
  assert.equal(tpotMs(results[0]), 20);
  assert.equal(tpotMs(results[1]), 25);
  assert.equal(s.tpotMs.mean, 22.5);
  assert.equal(s.ttftMs.mean, 150);
  assert.equal(s.itlMs.count, 6);
  assert.equal(s.itlMs.median, 25);
  assert.equal(tpotMs(r({ outputTokens: 1 })), null);
});

test('CDF points rise to 1 and are capped in number', () => {
  const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  const pts = cdfPoints(values, 100);
  assert.ok(pts.length <= 101);
  assert.deepEqual(pts[pts.length - 1], [999, 1]);
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i][0] >= pts[i - 1][0] && pts[i][1] > pts[i - 1][1]);
});
