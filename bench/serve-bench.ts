// Benchmark (not a test): SSE decode throughput and TTFT at concurrency 1, 4, 16 on the default model.

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startEngine } from '../runtime/worker/engine-client.js';
import { EdgewiseServer } from '../server/app.js';

const MODEL = process.env.EDGEWISE_BENCH_MODEL ?? fileURLToPath(new URL('../../models/default', import.meta.url));
const OUT = fileURLToPath(new URL('../../bench/results/serve-bench.json', import.meta.url));
const MAX_TOKENS = Number(process.env.EDGEWISE_BENCH_TOKENS ?? 64);
const LEVELS = [1, 4, 16];
// The default model's EOS ids, biased away so every request decodes exactly MAX_TOKENS tokens.
const NO_EOS = { '0': -100, '2': -100 };

interface RequestTiming {
  ttftMs: number;
  totalMs: number;
  completionTokens: number;
}

async function streamOnce(url: string, prompt: string): Promise<RequestTiming> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true }, logit_bias: NO_EOS }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs = -1;
  let completionTokens = -1;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      if (ttftMs < 0 && chunk.choices.some((c: { text: string }) => c.text.length > 0)) ttftMs = performance.now() - start;
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
  }
  return { ttftMs, totalMs: performance.now() - start, completionTokens };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runLevel(url: string, concurrency: number, numRequests: number): Promise<object> {
  const timings: RequestTiming[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < numRequests) {
      const i = next++;
      timings.push(await streamOnce(url, `Story number ${i}: once upon a time`));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = (performance.now() - start) / 1000;
  const tokens = timings.reduce((a, t) => a + t.completionTokens, 0);
  const ttfts = timings.map((t) => t.ttftMs);
  return {
    concurrency,
    requests: numRequests,
    completionTokens: tokens,
    wallSeconds: Number(wallS.toFixed(3)),
    throughputTokPerS: Number((tokens / wallS).toFixed(1)),
    ttftP50Ms: Number(percentile(ttfts, 50).toFixed(1)),
    ttftP99Ms: Number(percentile(ttfts, 99).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const maxBatch = Math.max(...LEVELS);
  const engine = await startEngine({ modelPath: MODEL, maxBatch, maxQueue: 256 });
  const server = new EdgewiseServer({ engine, logger: pino({ level: 'warn' }) });
  const port = await server.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  try {
    // Validate before timing: a request decodes exactly MAX_TOKENS tokens and streams text.
    const check = await streamOnce(url, 'Warm up');
    if (check.completionTokens !== MAX_TOKENS || check.ttftMs < 0) throw new Error(`validation failed: ${JSON.stringify(check)}`);
    const results = [];
    for (const c of LEVELS) {
      const result = await runLevel(url, c, Math.max(4, c * 2));
      console.log(JSON.stringify(result));
      results.push(result as { throughputTokPerS: number });
    }
    const speedup = results[results.length - 1].throughputTokPerS / results[0].throughputTokPerS;
    const report = {
      bench: 'serve-bench',
      date: new Date().toISOString(),
      model: MODEL,
      maxTokens: MAX_TOKENS,
      maxBatch,
      backend: 'cpu',
      levels: results,
      speedup16vs1: Number(speedup.toFixed(2)),
      target: 'throughput at 16 >= 4x throughput at 1',
      targetMet: speedup >= 4,
    };
    mkdirSync(fileURLToPath(new URL('.', `file://${OUT}`)), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`speedup 16 vs 1: ${report.speedup16vs1}x (target 4x: ${report.targetMet ? 'met' : 'NOT met'}); wrote ${OUT}`);
  } finally {
    server.close();
    await engine.close();
  }
}

main().catch((err) => {
  console.error(`serve-bench: error: ${(err as Error).message}`);
  process.exit(1);
});
