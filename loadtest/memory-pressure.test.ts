// The memory-pressure scenario against `edgewise serve --memory-budget` on a calibrated container: the governor's depth falls after the cut.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { writeCalibration } from '../runtime/calibration/ewm-calibration-store.js';
import { command } from './cli.js';
import type { LoadTestReport } from './report-model.js';

const CLI = fileURLToPath(new URL('../bin/edgewise.js', import.meta.url));
const DEFAULT_MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));

test('--memory-pressure cuts the budget mid-run; the timeline shows the budget, governed memory and depth falling, then the restore', async () => {
  const work = mkdtempSync(join(tmpdir(), 'lt-pressure-'));
  const ewm = join(work, 'default.ewm');
  convertToEwm(DEFAULT_MODEL, ewm);
  // A stand-in calibration (ranking + quality table) so that depth switching is on without a calibrate run.
  writeCalibration(ewm, {
    layerImportance: { method: 'block-influence', scores: [0.1, 0.12, 0.16, 0.17, 0.13, 0.14], ranking: [3, 2, 5, 4, 1, 0], numTokens: 1 },
    qualityTables: { numTokens: 1, windowTokens: 1, points: [6, 5, 4, 3, 2, 1].map((depth) => ({ depth, precision: 'bf16', perplexity: 10 + 0.5 * (6 - depth) })) },
  });
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--model', ewm, '--model-id', 'default', '--memory-budget', '64MB', '--quality', 'fast', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${out}`)), 60_000);
      proc.stdout!.on('data', () => {
        const m = /at (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void exited.then((code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    });
    const dir = join(work, 'out');
    const code = await command.run(['--url', url, '--protocol', 'ws', '--concurrency', '4', '--requests', '16', '--max-tokens', '8',
      '--memory-pressure', '3000000', '--scrape-interval-ms', '50', '--out', dir, '--strict']);
    assert.equal(code, 0);
    const report = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as LoadTestReport;
    const s = report.scenarios[0];
    assert.equal(s.summary.failed, 0);
    assert.deepEqual(s.events.map((e) => [e.ok, e.message]), [[true, 'budget set to 3000000 bytes'], [true, 'restored: budget set to 64000000 bytes']]);
    const cutMs = s.events[0].tMs;
    const before = s.timeline.filter((p) => p.tMs < cutMs);
    const after = s.timeline.filter((p) => p.tMs > cutMs && p.memoryBudgetBytes === 3_000_000);
    assert.ok(before.every((p) => p.memoryBudgetBytes === 64_000_000) && after.length > 0, JSON.stringify(s.timeline));
    assert.ok(after.every((p) => p.memoryUsedBytes <= 3_000_000), 'governed memory within the cut budget');
    assert.ok(Math.max(...before.map((p) => p.memoryUsedBytes)) > 3_000_000, 'it held more before the cut');
    // Requests admitted before the cut ran all 6 blocks; those admitted after it ran fewer.
    const depths = s.timeline.filter((p) => p.depthMean !== null).map((p) => p.depthMean as number);
    assert.equal(depths[0], 6);
    assert.ok(depths[depths.length - 1] < 6, `depth over time: ${depths.join(', ')}`);
    assert.ok(s.timeline.some((p) => (p.precisions.bf16 ?? 0) > 0), 'precision per interval recorded');
    assert.equal(s.timeline[s.timeline.length - 1].memoryBudgetBytes, 64_000_000, 'the timeline ends on the restored budget');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /Governor: depth of finished requests/);
    assert.match(html, /Governor: precision of finished requests/);
    assert.match(html, /budget cut/);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(work, { recursive: true, force: true });
  }
});
