// End to end on `edgewise serve` with a compressed container and a memory budget: /metrics, OTLP spans, request logs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { postJson } from '../server/test-helpers.js';
import { parsePrometheusText, sumSamples } from '../server/observability/prometheus-text.js';
import { DEFAULT_MODEL, spawnServer } from './e2e-server.js';

interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** An OTLP/HTTP JSON collector that keeps every span it is sent. */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; close(): void }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans, close: () => server.close() };
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

test('serve on a compressed model with --memory-budget: every metric, the OTLP span tree and one log line per request', async () => {
  const work = mkdtempSync(join(tmpdir(), 'obs-e2e-'));
  const collector = await startCollector();
  const ewm = join(work, 'default.ewm');
  convertToEwm(DEFAULT_MODEL, ewm);
  const server = await spawnServer(['--model', ewm, '--model-id', 'default', '--memory-budget', '9MiB', '--log-level', 'info'], {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  try {
    const url = server.url;
    const numRequests = 4;
    let completionTokens = 0;
    for (let i = 0; i < numRequests; i++) {
      const r = await postJson(`${url}/v1/completions`, { model: 'default', prompt: `The sea ${i}`, max_tokens: 6, temperature: 0, stream: i % 2 === 1 });
      assert.equal(r.status, 200, r.text);
      completionTokens += i % 2 === 1 ? 0 : r.json.usage.completion_tokens;
    }
    const bad = await postJson(`${url}/v1/completions`, { model: 'default', prompt: 'x', max_tokens: 0 });
    assert.equal(bad.status, 400);

    const s = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    const m = { model_name: 'default' };
    for (const name of ['time_to_first_token_seconds', 'e2e_request_latency_seconds', 'request_queue_time_seconds', 'block_decode_seconds']) {
      assert.equal(sumSamples(s, `edgewise:${name}_count`, m), numRequests, name);
    }
    const ttft = sumSamples(s, 'edgewise:time_to_first_token_seconds_sum', m);
    const e2e = sumSamples(s, 'edgewise:e2e_request_latency_seconds_sum', m);
    assert.ok(ttft > 0 && ttft <= e2e && e2e < 60, `TTFT ${ttft}s, e2e ${e2e}s`);
    const blockDecodeS = sumSamples(s, 'edgewise:block_decode_seconds_sum', m);
    assert.ok(blockDecodeS > 0 && blockDecodeS <= e2e, `block decode ${blockDecodeS}s within e2e ${e2e}s`);
    const generated = sumSamples(s, 'edgewise:generation_tokens_total', m);
    assert.ok(generated >= completionTokens && generated <= numRequests * 6);
    assert.ok(sumSamples(s, 'edgewise:inter_token_latency_seconds_count', m) > 0);
    assert.ok(sumSamples(s, 'edgewise:prompt_tokens_total', m) >= numRequests * 2);
    assert.equal(sumSamples(s, 'edgewise:num_requests_running', m), 0);
    assert.equal(sumSamples(s, 'edgewise:num_requests_waiting', m), 0);
    // The governor: a 9 MiB budget, governed use within it, and the block cache that fills it.
    assert.equal(sumSamples(s, 'edgewise:memory_budget_bytes', m), 9 * 1024 * 1024);
    const used = sumSamples(s, 'edgewise:memory_used_bytes', m);
    const cacheBytes = sumSamples(s, 'edgewise:block_cache_bytes', m);
    assert.ok(cacheBytes > 0 && used >= cacheBytes && used <= 9 * 1024 * 1024, `cache ${cacheBytes} B, used ${used} B`);
    assert.ok(sumSamples(s, 'edgewise:block_cache_misses_total', m) > 0, 'blocks were decompressed');
    assert.ok(sumSamples(s, 'edgewise:block_cache_hits_total', m) > 0, 'some were served from the cache');
    assert.ok(sumSamples(s, 'edgewise:depth_layers', m) >= 1);
    assert.equal(sumSamples(s, 'edgewise:request_precision_total', { ...m, precision: 'bf16' }), numRequests);
    assert.equal(sumSamples(s, 'edgewise:request_errors_total', { ...m, type: 'invalid_request_error' }), 1);

    // Spans reach the OTLP endpoint named by the environment; each request has its four children.
    for (let i = 0; i < 50 && collector.spans.filter((x) => x.name === 'edgewise.request').length < numRequests; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const roots = collector.spans.filter((x) => x.name === 'edgewise.request');
    assert.equal(roots.length, numRequests);
    for (const root of roots) {
      const kids = collector.spans.filter((x) => x.parentSpanId === root.spanId);
      assert.deepEqual(kids.map((k) => k.name).sort(), ['edgewise.block_decompression', 'edgewise.decode', 'edgewise.prefill', 'edgewise.queue']);
      const block = kids.find((k) => k.name === 'edgewise.block_decompression')!;
      assert.ok(Number(attr(block, 'edgewise.block_decode.count')) > 0);
      assert.equal(attr(root, 'edgewise.precision'), 'bf16');
      assert.ok(Number(attr(root, 'edgewise.depth')) >= 1);
      assert.ok(Number(attr(root, 'gen_ai.usage.output_tokens')) > 0);
    }
  } finally {
    assert.equal(await server.stop(), 0, server.output());
    collector.close();
    rmSync(work, { recursive: true, force: true });
  }
  // --log-level info: exactly one line per finished request (the refused one never reached the engine).
  const finished = server.output().split('\n').filter((l) => l.includes('"msg":"request finished"'));
  assert.equal(finished.length, 4, server.output());
  for (const line of finished) assert.match(line, /"level":30,.*"model":"default".*"ttftMs":\d+.*"totalMs":\d+/);
});
