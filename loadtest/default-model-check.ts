#!/usr/bin/env node
// Acceptance run: serve the default model, load it over SSE and WebSocket, check zero failures and the HTML render.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { command as loadtest } from './cli.js';
import type { LoadTestReport } from './report-model.js';
import { checkRender, decodePng, findChromium, renderStats, screenshot } from './render-check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** result.json stores NaN (no samples) as null. */
function fmt(v: number | null, digits: number): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

/** Starts `edgewise serve` on a free port; resolves with its base URL once it prints it. */
function startServer(model: string | undefined): Promise<{ child: ChildProcess; url: string }> {
  const args = [join(ROOT, 'dist/bin/edgewise.js'), 'serve', '--port', '0', '--log-level', 'warn', '--max-batch', '8'];
  if (model !== undefined) args.push('--model', model);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 120 s')), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited early with code ${code}: ${out.trim()}`)));
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      requests: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '8' },
      'max-tokens': { type: 'string', default: '64' },
      out: { type: 'string', default: join(ROOT, 'bench/results/loadtest-default') },
    },
  });
  const { child, url } = await startServer(values.model);
  const problems: string[] = [];
  const lines: string[] = [];
  try {
    for (const protocol of ['sse', 'ws'] as const) {
      const dir = join(values.out!, protocol);
      const code = await loadtest.run([
        '--url', url, '--protocol', protocol, '--concurrency', values.concurrency!, '--requests', values.requests!,
        '--max-tokens', values['max-tokens']!, '--prompt-tokens', '32,8', '--out', dir, '--endpoint', 'chat',
      ]);
      if (code !== 0) problems.push(`${protocol}: loadtest exited with ${code}`);
      const report = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as LoadTestReport;
      const s = report.scenarios[0].summary;
      if (s.failed !== 0) problems.push(`${protocol}: ${s.failed} failed requests`);
      lines.push(
        `${protocol}: ${s.completed} completed, ${s.failed} failed, ${fmt(s.requestThroughput, 2)} req/s, ${fmt(s.outputThroughput, 1)} output tok/s, ` +
          `TTFT median ${fmt(s.ttftMs.median, 1)} ms, TPOT median ${fmt(s.tpotMs.median, 2)} ms, E2E p99 ${fmt(s.e2eMs.p99, 0)} ms`,
      );
      const chromium = findChromium();
      if (chromium === null) {
        lines.push(`${protocol}: render check SKIPPED: chromium not installed (apt-get install -y chromium)`);
        continue;
      }
      const png = join(dir, 'report.png');
      await screenshot(chromium, join(dir, 'report.html'), png);
      const stats = renderStats(decodePng(readFileSync(png)));
      const renderProblems = checkRender(stats, 1);
      problems.push(...renderProblems.map((p) => `${protocol} report: ${p}`));
      lines.push(`${protocol}: report rendered in headless Chromium: ${stats.width}x${stats.height}, ${(stats.inkFraction * 100).toFixed(1)}% ink, ${renderProblems.length === 0 ? 'plots visible' : 'PROBLEMS'}`);
    }
  } finally {
    await stopServer(child);
  }
  const modelDir = values.model ?? join(ROOT, 'models/default');
  let weights = 'weights: unknown';
  try {
    const st = statSync(join(modelDir, 'model.safetensors'));
    weights = `model.safetensors ${st.size} bytes, modified ${st.mtime.toISOString()}`;
  } catch {
    // a container file or another layout: the path alone names it
  }
  const text =
    `default-model load test (${values.requests} requests, concurrency ${values.concurrency}, max_tokens ${values['max-tokens']}), ${new Date().toISOString()}\n` +
    `model: ${modelDir} (${weights})\n${lines.join('\n')}\n${problems.length === 0 ? 'PASS' : `FAIL: ${problems.join('; ')}`}\n`;
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, 'summary.txt'), text);
  process.stdout.write(text);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`default-model-check: error: ${err.message}\n`);
    process.exit(1);
  },
);
