#!/usr/bin/env node
// `npm run loadtest`: loads an Edgewise server over SSE or WebSocket and writes JSON + HTML reports.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { helpText, parseCommandArgs, parseFloatOption, parseIdList, parseIntOption, reportError, UsageError, wantsHelp } from '../bin/cli-util.js';
import { buildPrompts, calibrationText } from './prompts.js';
import { formatSummary, type LoadTestReport } from './report-model.js';
import { renderHtmlReport } from './report-html.js';
import { runScenario } from './runner.js';
import { fetchModelId, measureTokensPerWord } from './server-api.js';
import { openTransport, type Endpoint, type Protocol } from './transports.js';

export const command = {
  name: 'loadtest',
  summary: 'load an Edgewise server (SSE or WebSocket) and report throughput and latency like vLLM',
  usage: `usage: npm run loadtest -- --url <base> [options]

  --url <base>               server base URL, e.g. http://127.0.0.1:8080 (required)
  --protocol sse|ws          streaming transport (default sse)
  --endpoint chat|completion OpenAI endpoint to call (default completion)
  --concurrency <n>          requests in flight, closed loop (default 8); with --rate, the cap
  --rate <r>                 Poisson arrivals per second instead of a closed loop
  --sweep <n,n,...>          run once per concurrency (e.g. 1,4,8); plots throughput against it
  --requests <n>             requests per scenario (default 100)
  --prompt-tokens <mean,sd>  prompt length in tokens, normal (default 32,8)
  --max-tokens <n>           max_tokens of each request (default 64)
  --temperature <t>          sampling temperature (default 1)
  --memory-pressure <x>      once half the requests were sent, POST /admin/budget with x × the
                             current budget (x < 1) or x bytes; restored at the end
  --scrape-interval-ms <n>   /metrics sampling period for the server timeline (default 1000)
  --api-key <key>            bearer token
  --seed <n>                 prompt and arrival seed (default 0)
  --out <dir>                where result.json and report.html go (default ./loadtest-out)
  --strict                   exit 1 when any request failed
`,
  run,
};

const OPTIONS = {
  url: { type: 'string' },
  protocol: { type: 'string' },
  endpoint: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  sweep: { type: 'string' },
  requests: { type: 'string' },
  'prompt-tokens': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'memory-pressure': { type: 'string' },
  'scrape-interval-ms': { type: 'string' },
  'api-key': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  strict: { type: 'boolean' },
} as const;

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`, flag);
  return value as T;
}

function parsePromptTokens(value: string | undefined): { mean: number; stddev: number } {
  if (value === undefined) return { mean: 32, stddev: 8 };
  const parts = value.split(',');
  if (parts.length > 2) throw new UsageError(`--prompt-tokens must be "mean" or "mean,stddev", got "${value}"`, '--prompt-tokens');
  return {
    mean: parseFloatOption(parts[0], '--prompt-tokens mean', { min: 1 }),
    stddev: parseFloatOption(parts[1], '--prompt-tokens stddev', { min: 0, fallback: 0 }),
  };
}

async function run(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(argv, OPTIONS);
  if (v.url === undefined) throw new UsageError('--url is required', '--url');
  const baseUrl = v.url.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--url must start with http:// or https://, got "${v.url}"`, '--url');
  const protocol = oneOf<Protocol>(v.protocol, '--protocol', ['sse', 'ws'], 'sse');
  const endpoint = oneOf<Endpoint>(v.endpoint, '--endpoint', ['chat', 'completion'], 'completion');
  const rate = v.rate === undefined ? null : parseFloatOption(v.rate, '--rate', { min: 1e-6 });
  if (v.sweep !== undefined && rate !== null) throw new UsageError('--sweep and --rate cannot be combined', '--sweep');
  const concurrencyCap = v.concurrency === undefined ? null : parseIntOption(v.concurrency, '--concurrency', { min: 1, max: 4096 });
  const sweep = v.sweep !== undefined ? parseIdList(v.sweep, '--sweep') : [rate === null ? (concurrencyCap ?? 8) : (concurrencyCap ?? 0)];
  if (sweep.some((c) => c < 1) && rate === null) throw new UsageError('--sweep values must be >= 1', '--sweep');
  const requests = parseIntOption(v.requests, '--requests', { min: 1, fallback: 100 });
  const promptTokens = parsePromptTokens(v['prompt-tokens']);
  const maxTokens = parseIntOption(v['max-tokens'], '--max-tokens', { min: 1, fallback: 64 });
  const temperature = parseFloatOption(v.temperature, '--temperature', { min: 0, max: 2, fallback: 1 });
  const memoryPressure = v['memory-pressure'] === undefined ? null : parseFloatOption(v['memory-pressure'], '--memory-pressure', { min: 1e-6 });
  const scrapeIntervalMs = parseIntOption(v['scrape-interval-ms'], '--scrape-interval-ms', { min: 50, fallback: 1000 });
  const seed = parseIntOption(v.seed, '--seed', { fallback: 0 });
  const outDir = resolve(v.out ?? 'loadtest-out');

  const model = await fetchModelId(baseUrl, v['api-key']);
  const tokensPerWord = await measureTokensPerWord(baseUrl, model, calibrationText(seed), v['api-key']);
  const prompts = buildPrompts({ count: requests, meanTokens: promptTokens.mean, stddevTokens: promptTokens.stddev, tokensPerWord: tokensPerWord ?? 1.3, seed });
  const report: LoadTestReport = {
    startedAt: new Date().toISOString(),
    baseUrl,
    model,
    protocol,
    endpoint,
    requestsPerScenario: requests,
    maxTokens,
    promptTokens,
    tokensPerWord,
    seed,
    memoryPressure,
    scenarios: [],
  };
  if (tokensPerWord === null) process.stderr.write('loadtest: POST /tokenize unavailable; prompt lengths assume 1.3 tokens per word\n');
  for (const level of sweep) {
    const concurrency = rate === null ? level : concurrencyCap;
    const label = rate === null ? `concurrency ${level}` : `rate ${rate}/s`;
    const transport = await openTransport(protocol, {
      baseUrl, model, endpoint, apiKey: v['api-key'], temperature, connections: Math.min(concurrency ?? 8, 64),
    });
    try {
      const scenario = await runScenario(transport, {
        baseUrl, apiKey: v['api-key'], concurrency, rate, prompts, maxTokens, seed, scrapeIntervalMs, memoryPressure, label,
      });
      report.scenarios.push(scenario);
      process.stdout.write(formatSummary(scenario));
    } finally {
      await transport.close();
    }
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'result.json'), JSON.stringify(report, null, 1));
  writeFileSync(join(outDir, 'report.html'), renderHtmlReport(report));
  process.stdout.write(`wrote ${join(outDir, 'result.json')} and ${join(outDir, 'report.html')}\n`);
  const failed = report.scenarios.reduce((a, s) => a + s.summary.failed, 0);
  return v.strict && failed > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText(command));
    return 0;
  }
  try {
    return await run(argv);
  } catch (err) {
    return reportError(command.name, err);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
