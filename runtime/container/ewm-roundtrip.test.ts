// convert → decompress gives byte-identical tensors; the container path gives bit-identical logits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { decompressEwm } from './ewm-decompress.js';
import { EwmFile } from './ewm-reader.js';
import { SafetensorsCheckpoint } from '../model/safetensors-checkpoint.js';
import { loadModel, loadTokenizerAndTemplate } from '../model/load-model.js';
import { createRunner } from '../engine/create-runner.js';
import { EdgewiseError } from '../errors.js';
import { castF32ToBf16 } from '../../kernels/codec/bf16.js';
import { writeEdgeValueFolder } from './ewm-test-util.js';

const root = new URL('../../../', import.meta.url).pathname;
const defaultModel = join(root, 'models/default');
const fixtures = join(root, 'test/fixtures');
const work = mkdtempSync(join(tmpdir(), 'ewm-roundtrip-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function assertSameTensors(srcDir: string, outDir: string): number {
  const a = SafetensorsCheckpoint.openFolder(srcDir);
  const b = SafetensorsCheckpoint.openFolder(outDir);
  try {
    const names = a.tensors().map((t) => t.name);
    assert.deepEqual(b.tensors().map((t) => t.name).sort(), [...names].sort());
    for (const name of names) {
      assert.deepEqual(b.info(name).shape, a.info(name).shape, name);
      assert.equal(b.info(name).dtype, a.info(name).dtype, name);
      assert.ok(Buffer.from(b.readRaw(name)).equals(Buffer.from(a.readRaw(name))), `tensor ${name} differs`);
    }
    return names.length;
  } finally {
    a.close();
    b.close();
  }
}

test('default model: convert then decompress gives byte-identical tensors and files, within the size targets', () => {
  const ewm = join(work, 'default.ewm');
  const report = convertToEwm(defaultModel, ewm);
  const out = join(work, 'default-out');
  decompressEwm(ewm, out);
  assert.ok(assertSameTensors(defaultModel, out) > 10);
  // Every file, the safetensors one included (its header is carried verbatim), comes back byte for byte.
  for (const f of readdirSync(defaultModel)) {
    assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(defaultModel, f))), `${f} differs`);
  }
  console.log(`default model: ${report.bitsPerWeight.toFixed(3)} bits/weight, bound ${report.entropyBoundBits.toFixed(3)}`);
  assert.ok(report.bitsPerWeight <= 0.7 * 16, `bits/weight ${report.bitsPerWeight} above 70% of BF16`);
  assert.ok(report.bitsPerWeight - report.entropyBoundBits <= 0.15, `gap to the entropy bound ${report.bitsPerWeight - report.entropyBoundBits}`);
  assert.ok(report.bitsPerWeight > report.entropyBoundBits - 0.01, 'cannot beat the entropy bound');
});

test('generated tensors with every edge value (two shards) survive bit for bit', () => {
  const src = join(work, 'edges');
  writeEdgeValueFolder(src, 41);
  const ewm = join(work, 'edges.ewm');
  convertToEwm(src, ewm, { chunkSize: 256 });
  const out = join(work, 'edges-out');
  decompressEwm(ewm, out);
  assert.equal(assertSameTensors(src, out), 21);
  for (const f of readdirSync(src)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(src, f))), `${f} differs`);
});

test('small binary files (tokenizer.model) come back byte for byte; weights in another format are skipped with a warning', () => {
  const src = join(work, 'binary-files');
  writeEdgeValueFolder(src, 43);
  const spm = Uint8Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) & 0xff); // not valid UTF-8
  writeFileSync(join(src, 'tokenizer.model'), spm);
  writeFileSync(join(src, 'pytorch_model.bin'), new Uint8Array(64));
  const warnings: string[] = [];
  convertToEwm(src, join(work, 'binary-files.ewm'), { onWarning: (m) => warnings.push(m) });
  assert.deepEqual(warnings, ['skipping pytorch_model.bin: weights in another format']);
  const out = join(work, 'binary-files-out');
  decompressEwm(join(work, 'binary-files.ewm'), out);
  assert.ok(readFileSync(join(out, 'tokenizer.model')).equals(spm), 'tokenizer.model differs');
  assert.ok(!existsSync(join(out, 'pytorch_model.bin')));
  assert.ok(readFileSync(join(out, 'config.json')).equals(readFileSync(join(src, 'config.json'))));
});

test('F16 is lossless; F32 needs a flag: kept raw (lossless) or cast to BF16 (equal to a reference cast)', () => {
  const f16 = join(fixtures, 'mistral');
  convertToEwm(f16, join(work, 'f16.ewm'));
  decompressEwm(join(work, 'f16.ewm'), join(work, 'f16-out'));
  assertSameTensors(f16, join(work, 'f16-out'));

  const f32 = join(fixtures, 'llama-gqa');
  assert.throws(() => convertToEwm(f32, join(work, 'f32.ewm')), (e: unknown) => e instanceof EdgewiseError && /--cast-fp32/.test(e.message));
  convertToEwm(f32, join(work, 'f32-keep.ewm'), { keepFp32: true });
  decompressEwm(join(work, 'f32-keep.ewm'), join(work, 'f32-keep'));
  assertSameTensors(f32, join(work, 'f32-keep'));

  const warnings: string[] = [];
  convertToEwm(f32, join(work, 'f32-cast.ewm'), { castFp32: true, onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.filter((m) => /casting \d+ F32 tensors to BF16/.test(m)).length, 1, warnings.join('; '));
  // The cast changed dtypes: decompress writes a fresh header for the BF16 tensors instead of the source's.
  decompressEwm(join(work, 'f32-cast.ewm'), join(work, 'f32-cast'));
  const castBack = SafetensorsCheckpoint.openFolder(join(work, 'f32-cast'));
  assert.ok(castBack.tensors().every((t) => t.dtype === 'BF16'));
  castBack.close();
  const file = EwmFile.open(join(work, 'f32-cast.ewm'));
  const src = SafetensorsCheckpoint.openFolder(f32);
  try {
    for (const t of file.metadata.tensors) {
      assert.equal(t.dtype, 'BF16');
      assert.equal(t.sourceDtype, 'F32');
      const expected = castF32ToBf16(src.readF32(t.name));
      const got = new Uint16Array(file.tensorBytes(t, file.readSegment(t.segment)).buffer);
      assert.deepEqual(got, expected, t.name);
    }
  } finally {
    file.close();
    src.close();
  }
});

async function stepLogits(path: string, prompt: number[]): Promise<Float32Array[]> {
  const model = await loadModel(path);
  assert.equal(model.format, path.endsWith('.ewm') ? 'ewm' : 'hf-folder');
  const runner = await createRunner(model.weights, { backend: 'cpu', threads: 1 });
  try {
    runner.createSequence(1);
    const steps = [await runner.step([{ seqId: 1, tokenIds: prompt, allLogits: true }])];
    for (const id of [17, 31, 5]) steps.push(await runner.step([{ seqId: 1, tokenIds: [id] }]));
    return steps.map(([l]) => l.slice());
  } finally {
    await runner.dispose();
    model.weights.close();
  }
}

function assertBitIdentical(container: Float32Array[], folder: Float32Array[], label: string): void {
  assert.equal(container.length, folder.length);
  for (let s = 0; s < folder.length; s++) {
    assert.ok(folder[s].some((v) => v !== 0), 'logits are not all zero');
    assert.deepEqual(new Uint32Array(container[s].buffer), new Uint32Array(folder[s].buffer), `${label}: step ${s} logits differ`);
  }
}

test('logits from the container are bit-identical to the folder path (same runner, same inputs)', async () => {
  const ewm = join(work, 'default-logits.ewm');
  convertToEwm(defaultModel, ewm);
  const meta = await loadTokenizerAndTemplate(ewm);
  assert.ok(meta.tokenizer !== null, 'tokenizer travels in the container');
  const prompt = meta.tokenizer!.encode('The quick brown fox jumps over the lazy dog', { addSpecialTokens: true });
  assertBitIdentical(await stepLogits(ewm, prompt), await stepLogits(defaultModel, prompt), 'default model');
});

test('F16 fixture and an F32 fixture kept raw also give bit-identical logits', async () => {
  const cases: [string, Parameters<typeof convertToEwm>[2]][] = [['mistral', {}], ['qwen2-bias', { keepFp32: true }]];
  for (const [name, options] of cases) {
    const ewm = join(work, `${name}-logits.ewm`);
    convertToEwm(join(fixtures, name), ewm, options);
    const prompt = [1, 7, 3, 9, 4];
    assertBitIdentical(await stepLogits(ewm, prompt), await stepLogits(join(fixtures, name), prompt), name);
  }
});
