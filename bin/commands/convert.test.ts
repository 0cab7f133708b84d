// CLI: convert, info and decompress on a real fixture, plus help and one-line failures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'dist/bin/edgewise.js');
const work = mkdtempSync(join(tmpdir(), 'ewm-cli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, EDGEWISE_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('convert → info → decompress on a BF16 fixture', () => {
  const ewm = join(work, 'm.ewm');
  const c = run('convert', join(root, 'test/fixtures/llama3-rope'), '-o', ewm);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /size before .*\n.*size after .*\n.*bits\/weight +\d+\.\d+ .*entropy bound 8 \+ H\(exponent\) = \d+\.\d+/);
  assert.match(c.out, /layer\.0 +\d+ +\d+\.\d+ +\d+\.\d+/);
  const i = run('info', ewm);
  assert.equal(i.code, 0, i.err);
  assert.match(i.out, /format +ewm version 2 \(huff8 with bit-planes, chunk 4096\)/);
  // Each rung's bits read and bytes cached per weight.
  assert.match(i.out, /precisions +bf16 +lossless +reads \d+\.\d+ bits\/weight, caches 4\.000 bytes\/weight/);
  assert.match(i.out, /e8m3 +3-bit mantissa +reads \d+\.\d+ bits\/weight, caches 1\.\d+ bytes\/weight/);
  assert.match(i.out, /e8m1 +1-bit mantissa +reads \d+\.\d+ bits\/weight, caches 1\.\d+ bytes\/weight/);
  assert.match(c.out, /precisions +bf16 reads \d+\.\d+, e8m3 reads \d+\.\d+, e8m1 reads \d+\.\d+ bits\/weight/);
  assert.match(i.out, /layer\.1 +\d+ .* \d+ symbols, max \d+ bits/);
  const json = JSON.parse(run('info', ewm, '--json').out) as { segments: { name: string }[] };
  assert.deepEqual(json.segments.map((s) => s.name).slice(0, 2), ['embed', 'layer.0']);
  const verified = run('info', ewm, '--verify');
  assert.equal(verified.code, 0, verified.err);
  assert.equal(verified.out.match(/^(embed|layer\.\d+|head) .* ok +\d+ symbols/gm)?.length, json.segments.length, verified.out);
  const d = run('decompress', ewm, '-o', join(work, 'out'));
  assert.equal(d.code, 0, d.err);
  assert.ok(readFileSync(join(work, 'out/config.json')).equals(readFileSync(join(root, 'test/fixtures/llama3-rope/config.json'))));
});

test('help, usage errors and corrupt input give one line and a non-zero exit', () => {
  for (const cmd of ['convert', 'decompress']) {
    const h = run(cmd, '--help');
    assert.equal(h.code, 0);
    assert.match(h.out, new RegExp(`Usage: edgewise ${cmd}`));
  }
  const noOut = run('convert', join(root, 'models/default'));
  assert.equal(noOut.code, 2);
  assert.equal(noOut.err, 'edgewise convert: error: -o <model.ewm> is required\n');
  const f32 = run('convert', join(root, 'test/fixtures/llama-gqa'), '-o', join(work, 'x.ewm'));
  assert.notEqual(f32.code, 0);
  assert.match(f32.err, /(^|\n)edgewise convert: error: .*--cast-fp32.*\n$/);
  assert.ok(!existsSync(join(work, 'x.ewm')), 'no half-written container is left behind');
  const bad = join(work, 'bad.ewm');
  writeFileSync(bad, Buffer.alloc(200, 7));
  const d = run('decompress', bad, '-o', join(work, 'y'));
  assert.equal(d.code, 1);
  assert.match(d.err, /^edgewise decompress: error: bad\.ewm header: not an \.ewm container \(bad magic\)\n$/);
  // info --verify reads every segment: a flipped byte inside layer.0 is named, the rest stay ok.
  const damaged = join(work, 'damaged.ewm');
  assert.equal(run('convert', join(root, 'test/fixtures/llama3-rope'), '-o', damaged).code, 0);
  const layer0 = (JSON.parse(run('info', damaged, '--json').out) as { segments: { name: string; offset: number; bytes: number }[] }).segments.find((s) => s.name === 'layer.0')!;
  const bytes = readFileSync(damaged);
  bytes[layer0.offset + (layer0.bytes >> 1)] ^= 0x10;
  writeFileSync(damaged, bytes);
  assert.equal(run('info', damaged).code, 0, 'plain info reads metadata only');
  const v = run('info', damaged, '--verify');
  assert.equal(v.code, 1);
  assert.match(v.err, /^edgewise info: error: damaged\.ewm segment layer\.0: checksum mismatch in part \d \(corrupt segment\)\n$/);
  assert.match(v.out, /^layer\.0 .* CORRUPT /m);
  assert.match(v.out, /^layer\.1 .* ok /m);
  assert.equal(run('info', join(root, 'test/fixtures/llama3-rope'), '--verify').code, 1, '--verify on a folder is refused');
});

test('--cast-fp32 prints a one-line warning; generate accepts the .ewm and prints the same greedy ids as the folder', () => {
  const cast = run('convert', join(root, 'test/fixtures/llama-gqa'), '-o', join(work, 'cast.ewm'), '--cast-fp32');
  assert.equal(cast.code, 0, cast.err);
  assert.match(cast.err, /^edgewise convert: warning: casting \d+ F32 tensors to BF16 .*NOT lossless.*$/m);
  const folder = join(root, 'models/default');
  const ewm = join(work, 'default.ewm');
  assert.equal(run('convert', folder, '-o', ewm).code, 0);
  const ids = (model: string): string => {
    const g = run('generate', '--model', model, '--prompt-ids', '1,40,41,42', '--max-tokens', '12', '--temperature', '0', '--print-ids', '--threads', '1');
    assert.equal(g.code, 0, g.err);
    return g.out.trimEnd().split('\n').at(-1)!;
  };
  const fromFolder = ids(folder);
  assert.match(fromFolder, /^\d+(,\d+)+$/);
  assert.equal(ids(ewm), fromFolder);
});
