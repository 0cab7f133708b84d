// The memory-pressure scenario against `edgewise serve --memory-budget` on a calibrated container: the governor's depth falls after the cut.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { writeCalibration } from '../runtime/calibration/ewm-calibration-store.js';
import { command } from '../loadtest/cli.js';
import type { LoadTestReport } from '../loadtest/report-model.js';
import { DEFAULT_MODEL, spawnServer } from './e2e-server.js';

test('--memory-pressure cuts the budget mid-run; the timeline shows the budget, governed memory and depth falling, then the restore', async () => {
  const work = mkdtempSync(join(tmpdir(), 'lt-pressure-'));
  const ewm = join(work, 'default.ewm');
  convertToEwm(DEFAULT_MODEL, ewm);
  // A stand-in calibration (ranking + quality table) so that depth switching is on without a calibrate run.
  writeCalibration(ewm, {
    layerImportance: { method: 'block-influence', scores: [0.1, 0.12, 0.16, 0.17, 0.13, 0.14], ranking: [3, 2, 5, 4, 1, 0], numTokens: 1 },
    qualityTables: { numTokens: 1, windowTokens: 1, points: [6, 5, 4, 3, 2, 1].map((depth) => ({ depth, precision: 'bf16', perplexity: 10 + 0.5 * (6 - depth) })) },
  });
  const server = await spawnServer(['--model', ewm, '--model-id', 'default', '--memory-budget', '64MB', '--quality', 'fast']);
  try {
    const url = server.url;
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
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
