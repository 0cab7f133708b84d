// Tests the safetensors reader (hand-built files, writer round trips, corrupt headers) and sharded checkpoints.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EdgewiseError, ModelFormatError, UnsupportedModelError } from '../errors.js';
import { SafetensorsCheckpoint } from './safetensors-checkpoint.js';
import { SafetensorsFile } from './safetensors.js';
import { writeSafetensors } from './safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'edgewise-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file laid out by hand from the format's definition: u64 header length, JSON, data. */
function handBuilt(path: string, header: object, data: Uint8Array): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

function randomF32(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 8;
  return out;
}

test('reads a hand-built file: F32, BF16 and F16 tensors converted exactly, raw bytes as stored', () => {
  const data = Buffer.alloc(16 + 4 + 4);
  data.writeFloatLE(1.5, 0);
  data.writeFloatLE(-2.25, 4);
  data.writeFloatLE(1e-30, 8);
  data.writeFloatLE(7, 12);
  data.writeUInt16LE(0x3f80, 16); // bf16 1.0
  data.writeUInt16LE(0xc0a0, 18); // bf16 -5.0
  data.writeUInt16LE(0x3c00, 20); // f16 1.0
  data.writeUInt16LE(0x0200, 22); // f16 subnormal 2^-15
  const path = join(dir, 'hand.safetensors');
  handBuilt(path, {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] },
    c: { dtype: 'F16', shape: [2], data_offsets: [20, 24] },
  }, data);
  const f = SafetensorsFile.open(path);
  try {
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.deepEqual(f.tensors().map((t) => [t.name, t.dtype, t.shape, t.byteLength]), [['a', 'F32', [2, 2], 16], ['b', 'BF16', [2], 4], ['c', 'F16', [2], 4]]);
    assert.deepEqual([...f.readF32('a')], [1.5, -2.25, Math.fround(1e-30), 7]);
    assert.deepEqual([...f.readF32('b')], [1, -5]);
    assert.deepEqual([...f.readF32('c')], [1, 2 ** -15]);
    assert.deepEqual([...f.readRaw('b')], [0x80, 0x3f, 0xa0, 0xc0]);
    assert.throws(() => f.readF32('zzz'), (e: unknown) => e instanceof ModelFormatError && /no tensor named "zzz"/.test(e.message));
  } finally {
    f.close();
  }
});

test('writer → reader round trip on random data (F32 exact, BF16 rounded, raw F16 passed through)', () => {
  const a = randomF32(3 * 5, 1);
  const b = randomF32(64, 2);
  const halves = new Uint16Array(10).map((_, i) => 0x3c00 + i * 37);
  const path = join(dir, 'rt.safetensors');
  writeSafetensors(path, [
    { name: 'x.weight', dtype: 'F32', shape: [3, 5], data: a },
    { name: 'y.weight', dtype: 'BF16', shape: [8, 8], data: () => b },
    { name: 'z', dtype: 'F16', shape: [10], data: new Uint8Array(halves.buffer) },
  ], { note: 'test' });
  const bytes = readFileSync(path);
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  const f = SafetensorsFile.open(path);
  try {
    assert.deepEqual(f.readF32('x.weight'), a);
    const yb = f.readF32('y.weight');
    for (let i = 0; i < b.length; i++) assert.ok(Math.abs(yb[i] - b[i]) <= Math.abs(b[i]) * 2 ** -8, `bf16 ${i}`);
    assert.ok(yb.some((v, i) => v !== b[i]), 'bf16 must round something');
    assert.deepEqual(new Uint16Array(f.readRaw('z').buffer), halves);
    assert.equal(f.metadata.note, 'test');
  } finally {
    f.close();
  }
});

function expectError(path: string, cls: typeof ModelFormatError | typeof UnsupportedModelError, re: RegExp): void {
  assert.throws(() => SafetensorsFile.open(path), (e: unknown) => e instanceof cls && re.test((e as Error).message), String(re));
}

test('a truncated file names the first tensor that does not fit', () => {
  const path = join(dir, 'trunc.safetensors');
  writeSafetensors(path, [
    { name: 'first', dtype: 'F32', shape: [16], data: randomF32(16, 3) },
    { name: 'second', dtype: 'F32', shape: [16], data: randomF32(16, 4) },
    { name: 'third', dtype: 'F32', shape: [16], data: randomF32(16, 5) },
  ]);
  const full = readFileSync(path).length;
  truncateSync(path, full - 70); // cuts into "second"
  expectError(path, ModelFormatError, /trunc\.safetensors: file is truncated: tensor "second"/);
  truncateSync(path, 20);
  expectError(path, ModelFormatError, /runs past the end/);
  truncateSync(path, 3);
  expectError(path, ModelFormatError, /too short/);
});

test('corrupt headers are rejected with the problem named', () => {
  const p = join(dir, 'bad.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(1n << 40n);
  writeFileSync(p, Buffer.concat([len, Buffer.alloc(64)]));
  expectError(p, ModelFormatError, /header length \d+ is not plausible/);

  handBuilt(p, {}, new Uint8Array(0));
  const json = Buffer.from('{"a": {'); // not JSON
  const l2 = Buffer.alloc(8);
  l2.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(p, Buffer.concat([l2, json]));
  expectError(p, ModelFormatError, /not valid JSON/);

  handBuilt(p, { w: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
  expectError(p, UnsupportedModelError, /tensor "w" has dtype I8/);
  handBuilt(p, { w: { dtype: 'Q9', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
  expectError(p, ModelFormatError, /tensor "w" has unknown dtype "Q9"/);
  handBuilt(p, { w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16));
  expectError(p, ModelFormatError, /tensor "w": 16 bytes but shape \[3\] × F32 needs 12/);
  handBuilt(p, { u: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
  expectError(p, ModelFormatError, /tensor "v".*overlap or leave a gap/);
  handBuilt(p, { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4));
  expectError(p, ModelFormatError, /shape must be a list of non-negative integers/);
  expectError(join(dir, 'absent.safetensors'), ModelFormatError, /absent\.safetensors: cannot open: ENOENT/);
});

test('sharded checkpoint: tensors from two shards via the index; a wrong index entry is named', () => {
  const shardDir = mkdtempSync(join(dir, 'sharded-'));
  const x = randomF32(8, 6);
  const y = randomF32(6, 7);
  writeSafetensors(join(shardDir, 'model-00001-of-00002.safetensors'), [{ name: 'x', dtype: 'F32', shape: [8], data: x }]);
  writeSafetensors(join(shardDir, 'model-00002-of-00002.safetensors'), [{ name: 'y', dtype: 'BF16', shape: [2, 3], data: y }]);
  const index = { metadata: { total_size: 44 }, weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } };
  writeFileSync(join(shardDir, 'model.safetensors.index.json'), JSON.stringify(index));
  const ck = SafetensorsCheckpoint.openFolder(shardDir);
  try {
    assert.equal(ck.files.length, 2);
    assert.deepEqual(ck.readF32('x'), x);
    assert.deepEqual(ck.info('y').shape, [2, 3]);
    assert.deepEqual(ck.tensors().map((t) => t.name).sort(), ['x', 'y']);
    assert.ok(ck.diskBytes() > 44);
  } finally {
    ck.close();
  }
  writeFileSync(join(shardDir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, y: 'model-00001-of-00002.safetensors' } }));
  assert.throws(() => SafetensorsCheckpoint.openFolder(shardDir), /tensor "y" is listed in model-00001-of-00002\.safetensors but that shard does not hold it/);
  writeFileSync(join(shardDir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00009.safetensors' } }));
  assert.throws(() => SafetensorsCheckpoint.openFolder(shardDir), /model-00009\.safetensors: cannot open/);
  const empty = mkdtempSync(join(dir, 'empty-'));
  assert.throws(() => SafetensorsCheckpoint.openFolder(empty), /no model\.safetensors or model\.safetensors\.index\.json/);
});

test('fuzz: corrupted or cut files either open and read, or fail with a typed error (never a crash)', () => {
  const good = join(dir, 'fuzz-src.safetensors');
  writeSafetensors(good, [
    { name: 'a', dtype: 'BF16', shape: [4, 4], data: randomF32(16, 8) },
    { name: 'b', dtype: 'F16', shape: [8], data: new Uint8Array(16).fill(0x3c) },
    { name: 'c', dtype: 'F32', shape: [3], data: randomF32(3, 9) },
  ]);
  const bytes = readFileSync(good);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  const p = join(dir, 'fuzz.safetensors');
  let seed = 2024;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  let typedFailures = 0;
  for (let round = 0; round < 300; round++) {
    const copy = Buffer.from(bytes);
    if (round % 3 === 0) {
      writeFileSync(p, copy.subarray(0, next(copy.length)));
    } else {
      // Flip a few bytes, mostly in the length prefix and JSON header where parsing happens.
      for (let k = 0; k < 1 + next(3); k++) copy[next(headerEnd + 8)] = next(256);
      writeFileSync(p, copy);
    }
    try {
      const f = SafetensorsFile.open(p);
      for (const t of f.tensors()) f.readF32(t.name);
      f.close();
    } catch (err) {
      assert.ok(err instanceof EdgewiseError, `round ${round}: ${(err as Error).stack}`);
      typedFailures++;
    }
  }
  assert.ok(typedFailures > 100, `most corruptions must be caught (${typedFailures})`);
});

test('a source header copied verbatim gives a byte-identical file; a header that does not match the tensors is refused', () => {
  // Unpadded header, entry keys in another order, __metadata__ last: none of it what the writer itself produces.
  const data = Uint8Array.from({ length: 24 }, (_, i) => i * 7);
  const header = { b: { data_offsets: [0, 8], shape: [2, 2], dtype: 'BF16' }, a: { dtype: 'F32', shape: [4], data_offsets: [8, 24] }, __metadata__: { k: 'v', n: 'x' } };
  const src = join(dir, 'verbatim-src.safetensors');
  handBuilt(src, header, data);
  const f = SafetensorsFile.open(src);
  const tensors = f.tensors().map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: f.readRaw(t.name) }));
  assert.equal(f.trailingBytes, 0);
  const copy = join(dir, 'verbatim-copy.safetensors');
  writeSafetensors(copy, tensors, f.metadata, f.headerText!);
  assert.ok(readFileSync(copy).equals(readFileSync(src)));
  const other = JSON.stringify({ ...header, a: { ...header.a, shape: [2, 2] } });
  assert.throws(() => writeSafetensors(copy, tensors, {}, other), (e: unknown) => e instanceof EdgewiseError && /does not describe the tensors/.test(e.message));
  f.close();
});
