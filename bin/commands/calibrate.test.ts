// CLI: calibrate stores ranking and quality table in a container of the default model; the container stays valid.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../../runtime/container/ewm-writer.js';
import { EwmFile } from '../../runtime/container/ewm-reader.js';
import { readCalibration } from '../../runtime/calibration/ewm-calibration-store.js';

const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'dist/bin/edgewise.js');
const work = mkdtempSync(join(tmpdir(), 'calibrate-cli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, EDGEWISE_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('calibrate writes layerImportance and qualityTables; segments and other metadata are untouched', () => {
  const ewm = join(work, 'default.ewm');
  convertToEwm(join(root, 'models/default'), ewm);
  const before = EwmFile.open(ewm);
  const segmentsBefore = JSON.stringify(before.metadata.segments);
  before.close();
  const r = run('calibrate', ewm, '--tokens', '256', '--window', '64', '--json');
  assert.equal(r.code, 0, r.err);
  const printed = JSON.parse(r.out) as { layerImportance: { ranking: number[] } };
  const stored = readCalibration(ewm);
  assert.deepEqual(stored.layerImportance?.ranking, printed.layerImportance.ranking);
  assert.deepEqual([...stored.layerImportance!.ranking].sort(), [0, 1, 2, 3, 4, 5]);
  assert.ok(stored.layerImportance!.scores.every((s) => s > 0 && s < 2));
  assert.equal(stored.layerImportance!.numTokens, 256);
  const pts = stored.qualityTables!.points;
  assert.deepEqual(pts.map((p) => `${p.depth}/${p.precision}`), ['bf16', 'e8m3', 'e8m1'].flatMap((r) => [6, 5, 4, 3, 2, 1].map((d) => `${d}/${r}`)));
  assert.ok(pts.every((p) => Number.isFinite(p.perplexity) && p.perplexity > 1));
  const after = EwmFile.open(ewm); // checksums verified on open
  assert.equal(JSON.stringify(after.metadata.segments), segmentsBefore);
  after.close();
  // A second run replaces (not appends) the table.
  assert.equal(run('calibrate', ewm, '--tokens', '128', '--window', '64', '--precisions', 'bf16,e8m1', '--json').code, 0);
  assert.equal(readCalibration(ewm).qualityTables!.numTokens, 128);
  assert.deepEqual([...new Set(readCalibration(ewm).qualityTables!.points.map((p) => p.precision))], ['bf16', 'e8m1']);
  const bad = run('calibrate', ewm, '--tokens', '128', '--window', '64', '--precisions', 'fp4');
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /unknown precision "fp4"; rungs: bf16, e8m3, e8m1/);
});

test('calibrate: help, missing text, non-container input fail in one line', () => {
  const h = run('calibrate', '--help');
  assert.equal(h.code, 0);
  assert.match(h.out, /Usage: edgewise calibrate <model.ewm>/);
  const noText = run('calibrate', join(work, 'x.ewm'), '--text', join(work, 'nope.txt'));
  assert.equal(noText.code, 2);
  assert.match(noText.err, /^edgewise calibrate: error: held-out text not found/);
  writeFileSync(join(work, 't.txt'), 'some text');
  const folder = run('calibrate', join(root, 'models/default'), '--text', join(work, 't.txt'));
  assert.notEqual(folder.code, 0);
  assert.match(folder.err, /^edgewise calibrate: error: calibrate writes into an \.ewm container/);
  assert.equal(folder.err.trim().split('\n').length, 1);
});
