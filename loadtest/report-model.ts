// The whole load-test result (one scenario per swept concurrency) as written to result.json.

import type { ScenarioResult } from './runner.js';

export interface LoadTestReport {
  /** ISO time the run started. */
  startedAt: string;
  baseUrl: string;
  model: string;
  protocol: 'sse' | 'ws';
  endpoint: 'chat' | 'completion';
  requestsPerScenario: number;
  maxTokens: number;
  promptTokens: { mean: number; stddev: number };
  /** Tokens per word measured through POST /tokenize; null when the server could not say. */
  tokensPerWord: number | null;
  seed: number;
  memoryPressure: number | null;
  scenarios: ScenarioResult[];
}

/** vLLM-style text block for one scenario. */
export function formatSummary(s: ScenarioResult): string {
  const x = s.summary;
  const row = (name: string, value: string) => `${name.padEnd(40)}${value}\n`;
  const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  let out = `${'='.repeat(16)} ${s.label} ${'='.repeat(Math.max(4, 34 - s.label.length))}\n`;
  out += row('Successful requests:', String(x.completed));
  out += row('Failed requests:', String(x.failed));
  out += row('Benchmark duration (s):', f(x.durationS));
  out += row('Total input tokens:', String(x.totalInputTokens));
  out += row('Total generated tokens:', String(x.totalOutputTokens));
  out += row('Request throughput (req/s):', f(x.requestThroughput));
  out += row('Output token throughput (tok/s):', f(x.outputThroughput));
  out += row('Total token throughput (tok/s):', f(x.totalTokenThroughput));
  for (const [name, d] of [['TTFT', x.ttftMs], ['TPOT', x.tpotMs], ['ITL', x.itlMs], ['E2E latency', x.e2eMs]] as const) {
    out += `${'-'.repeat(14)} ${name} ${'-'.repeat(Math.max(4, 35 - name.length))}\n`;
    out += row(`Mean ${name} (ms):`, f(d.mean));
    out += row(`Median ${name} (ms):`, f(d.median));
    out += row(`P90 ${name} (ms):`, f(d.p90));
    out += row(`P99 ${name} (ms):`, f(d.p99));
  }
  for (const e of s.events) out += `note: ${e.message}\n`;
  const firstErrors = [...new Set(s.results.filter((r) => !r.ok).map((r) => r.error ?? 'unknown'))].slice(0, 3);
  for (const e of firstErrors) out += `error: ${e}\n`;
  return out + '='.repeat(50) + '\n';
}
