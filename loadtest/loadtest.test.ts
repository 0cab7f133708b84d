// The load tester end to end against a live server with the scripted engine, and its report in Chromium.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeEngine } from '../server/fake-engine.js';
import { startTestServer } from '../server/test-helpers.js';
import { createObservability } from '../server/observability/observability.js';
import { metricsRoute } from '../server/observability/metrics-route.js';
import { createServerLogger } from '../server/observability/logger.js';
import { command } from './cli.js';
import type { LoadTestReport } from './report-model.js';
import { checkRender, decodePng, findChromium, renderStats, screenshot } from './render-check.js';

async function withServer<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const engine = new FakeEngine({ stepMs: 2, maxBatch: 8 });
  const obs = createObservability({
    model: engine.modelId, numLayers: 1, precision: 'fp32', engineStats: () => engine.stats(),
    logger: createServerLogger({ level: 'silent' }), tracing: null,
  });
  const srv = await startTestServer({ engine, observers: [obs.observer], extraRoutes: [metricsRoute(obs.metrics!)] });
  try {
    return await fn(srv.url);
  } finally {
    await srv.close();
    await obs.shutdown();
  }
}

function readReport(dir: string): LoadTestReport {
  return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as LoadTestReport;
}

test('SSE sweep and WebSocket runs complete every request with consistent figures', async () => {
  await withServer(async (url) => {
    const sseDir = mkdtempSync(join(tmpdir(), 'lt-sse-'));
    const code = await command.run(['--url', url, '--protocol', 'sse', '--sweep', '1,4', '--requests', '16', '--max-tokens', '6',
      '--prompt-tokens', '12,3', '--out', sseDir, '--scrape-interval-ms', '100', '--memory-pressure', '0.5', '--strict']);
    assert.equal(code, 0);
    const sse = readReport(sseDir);
    assert.equal(sse.scenarios.length, 2);
    assert.ok(sse.tokensPerWord !== null && sse.tokensPerWord > 1, 'calibrated through /tokenize (char tokenizer: several tokens per word)');
    for (const s of sse.scenarios) {
      assert.equal(s.summary.completed, 16);
      assert.equal(s.summary.failed, 0);
      assert.equal(s.summary.totalOutputTokens, 16 * 6, 'the scripted engine always runs to max_tokens');
      assert.ok(s.summary.ttftMs.median > 0 && s.summary.ttftMs.median <= s.summary.e2eMs.median);
      assert.ok(s.summary.tpotMs.count === 16 && s.summary.itlMs.count > 0);
      assert.ok(s.timeline.length >= 2, 'server timeline scraped from /metrics');
      assert.ok(s.events.some((e) => e.kind === 'memory-pressure' && !e.ok && /not available/.test(e.message)), 'missing admin endpoint reported, not fatal');
    }
    // More concurrency on a batching engine: more throughput.
    assert.ok(sse.scenarios[1].summary.outputThroughput > sse.scenarios[0].summary.outputThroughput * 1.5);
    const html = readFileSync(join(sseDir, 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]*>.*TTFT CDF/s);
    assert.match(html, /Output token throughput/);
    assert.ok(!/<script/i.test(html), 'self-contained, no scripts');

    const wsDir = mkdtempSync(join(tmpdir(), 'lt-ws-'));
    assert.equal(await command.run(['--url', url, '--protocol', 'ws', '--concurrency', '4', '--requests', '12', '--max-tokens', '5', '--out', wsDir, '--strict']), 0);
    const ws = readReport(wsDir);
    assert.equal(ws.scenarios[0].summary.completed, 12);
    assert.equal(ws.scenarios[0].summary.totalOutputTokens, 60);

    const rateDir = mkdtempSync(join(tmpdir(), 'lt-rate-'));
    assert.equal(await command.run(['--url', url, '--rate', '200', '--requests', '10', '--max-tokens', '3', '--out', rateDir, '--strict']), 0);
    assert.equal(readReport(rateDir).scenarios[0].summary.completed, 10);

    const chromium = findChromium();
    if (chromium === null) {
      console.log('# SKIP report render check: chromium not installed (apt-get install -y chromium)');
      return;
    }
    const png = join(sseDir, 'report.png');
    await screenshot(chromium, join(sseDir, 'report.html'), png);
    const stats = renderStats(decodePng(readFileSync(png)));
    assert.deepEqual(checkRender(stats, 2), [], JSON.stringify(stats));
    // Control: the same check fails on a page without plots.
    const blank = join(sseDir, 'blank.html');
    (await import('node:fs')).writeFileSync(blank, '<html><body><p>no plots</p></body></html>');
    await screenshot(chromium, blank, join(sseDir, 'blank.png'));
    assert.notDeepEqual(checkRender(renderStats(decodePng(readFileSync(join(sseDir, 'blank.png')))), 2), []);
  });
});

test('bad arguments fail with one line and exit code 2', async () => {
  assert.equal(await command.run(['--protocol', 'sse']).catch(() => 2), 2);
  assert.ok(!existsSync('loadtest-out/never'));
});
