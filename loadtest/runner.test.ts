// The scenario runner with a scripted transport and a stub server: concurrency cap, Poisson pacing, budget change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { runScenario } from './runner.js';
import type { LoadRequest, SentResult, Transport } from './transports.js';

/** Answers after `ms`, tracking how many requests are in flight at once. */
class ScriptedTransport implements Transport {
  inflight = 0;
  maxInflight = 0;
  constructor(private readonly ms: number) {}
  async send(req: LoadRequest): Promise<SentResult> {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    await new Promise((r) => setTimeout(r, this.ms));
    this.inflight--;
    return { ok: true, ttftMs: this.ms / 2, itlMs: [1, 1], e2eMs: this.ms, promptTokens: req.prompt.split(' ').length, outputTokens: req.maxTokens };
  }
  async close(): Promise<void> {}
}

/**
 * GET /metrics with a budget gauge and a precision counter (one more request per scrape, at bf16
 * under the full budget and e8m1 below it); POST /admin/budget changes the budget.
 */
async function stubServer(): Promise<{ url: string; budgets: number[]; close(): void }> {
  let budget = 1_000_000;
  const budgets: number[] = [];
  const byPrecision: Record<string, number> = { bf16: 0, e8m1: 0 };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      byPrecision[budget < 1_000_000 ? 'e8m1' : 'bf16']++;
      const precision = Object.entries(byPrecision)
        .filter(([, n]) => n > 0)
        .map(([p, n]) => `edgewise:request_precision_total{precision="${p}",model_name="m"} ${n}\n`)
        .join('');
      res.end(`edgewise:memory_budget_bytes{model_name="m"} ${budget}\nedgewise:memory_used_bytes{model_name="m"} 400000\nedgewise:num_requests_running{model_name="m"} 2\n${precision}`);
      return;
    }
    if (req.method === 'POST' && req.url === '/admin/budget') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        budget = (JSON.parse(body) as { budget: number }).budget;
        budgets.push(budget);
        res.end('{}');
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, budgets, close: () => server.close() };
}

const prompts = Array.from({ length: 12 }, (_, i) => 'word '.repeat(i + 1).trim());

test('closed loop keeps exactly `concurrency` in flight and lowers then restores the budget', async () => {
  const stub = await stubServer();
  try {
    const transport = new ScriptedTransport(30);
    const r = await runScenario(transport, {
      baseUrl: stub.url, concurrency: 3, rate: null, prompts, maxTokens: 5, seed: 1, scrapeIntervalMs: 20, memoryPressure: 0.25, label: 'c3',
    });
    assert.equal(transport.maxInflight, 3);
    assert.equal(r.summary.completed, 12);
    assert.equal(r.summary.totalOutputTokens, 60);
    assert.ok(r.durationMs >= 4 * 30 - 5, 'four waves of 30 ms');
    assert.deepEqual(stub.budgets, [250_000, 1_000_000], 'lowered to 0.25x once, restored at the end');
    const [lower, restore] = r.events;
    assert.ok(lower.ok && /250000/.test(lower.message) && restore.ok && /restored/.test(restore.message));
    assert.ok(r.timeline.some((p) => p.memoryBudgetBytes === 250_000), 'the timeline saw the lowered budget');
    assert.equal(r.timeline[r.timeline.length - 1].memoryBudgetBytes, 1_000_000, 'and ends on the restored one');
    // Precision per scrape interval: the counter's increase, by label.
    const cut = r.timeline.findIndex((p) => p.memoryBudgetBytes === 250_000);
    assert.ok(r.timeline.slice(1, cut).every((p) => JSON.stringify(p.precisions) === '{"bf16":1}'), JSON.stringify(r.timeline));
    assert.deepEqual(r.timeline[cut].precisions, { e8m1: 1 });
    assert.ok(r.timeline.every((p) => p.running === 2 && p.memoryUsedBytes === 400_000));
    assert.ok(r.results.every((x, i) => x.promptTokens === i + 1), 'results stay in prompt order');
  } finally {
    stub.close();
  }
});

test('Poisson arrivals at rate R take about N/R seconds and respect the cap', async () => {
  const stub = await stubServer();
  try {
    const transport = new ScriptedTransport(5);
    const r = await runScenario(transport, {
      baseUrl: stub.url, concurrency: 2, rate: 100, prompts, maxTokens: 2, seed: 7, scrapeIntervalMs: 1000, memoryPressure: null, label: 'rate',
    });
    assert.ok(transport.maxInflight <= 2);
    assert.equal(r.summary.completed, 12);
    // 12 exponential gaps of mean 10 ms: well inside 20..600 ms even on a loaded machine.
    assert.ok(r.durationMs > 20 && r.durationMs < 600, `took ${r.durationMs} ms`);
    const starts = r.results.map((x) => x.startMs);
    assert.ok(starts.every((s, i) => i === 0 || s >= starts[i - 1]), 'arrivals in order');
    assert.deepEqual(stub.budgets, []);
  } finally {
    stub.close();
  }
});
