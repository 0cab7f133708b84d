// Corrupt containers (1,000+ flipped bytes and truncations) always end in a ModelFormatError naming the damaged part.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFormatError } from '../errors.js';
import { convertToEwm } from './ewm-writer.js';
import { EwmFile } from './ewm-reader.js';
import { writeEdgeValueFolder } from './ewm-test-util.js';
import { loadModel } from '../model/load-model.js';
import { seededRandom } from '../../kernels/codec/synthetic.js';
import { decodePlanesReference } from '../../kernels/codec/planes-reference.js';
import { nativeDecodePlanes } from '../../kernels/codec/native.js';
import { CodecError } from '../../kernels/codec/codec-error.js';

const work = mkdtempSync(join(tmpdir(), 'ewm-fuzz-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const src = join(work, 'src');
const expected = writeEdgeValueFolder(src, 5);
const good = join(work, 'good.ewm');
convertToEwm(src, good, { chunkSize: 256 });
const pristine = readFileSync(good);
const layout = EwmFile.open(good);
const metadataOffset = layout.header.metadataOffset;
const segments = layout.metadata.segments.map((s) => ({ name: s.name, begin: s.offset, end: s.offset + s.length }));
layout.close();

/** The part of the file a byte belongs to, as error messages name it. */
function regionOf(pos: number): string {
  if (pos < 64) return 'header';
  if (pos >= metadataOffset) return 'metadata';
  const s = segments.find((x) => pos >= x.begin && pos < x.end);
  assert.ok(s, `byte ${pos} outside every region`);
  return `segment ${s.name}`;
}

/** Opens, reads every segment and decodes every tensor; returns null when everything matches the source. */
function readEverything(path: string): unknown {
  try {
    const file = EwmFile.open(path);
    try {
      for (let i = 0; i < file.metadata.segments.length; i++) {
        const seg = file.readSegment(i);
        for (const t of file.metadata.tensors.filter((x) => x.segment === i)) {
          const bytes = file.tensorBytes(t, seg);
          if (!Buffer.from(bytes).equals(Buffer.from(expected.get(t.name)!))) return new Error(`silent wrong output in ${t.name}`);
        }
      }
    } finally {
      file.close();
    }
    return null;
  } catch (err) {
    return err;
  }
}

test('the pristine container reads back exactly', () => {
  assert.equal(readEverything(good), null);
  assert.ok(segments.length >= 4 && pristine.length > 40_000);
});

test('1,200 corruptions (byte flips anywhere, bursts, truncations) each end in a ModelFormatError naming the part', () => {
  const random = seededRandom(2024);
  const path = join(work, 'case.ewm');
  const hits = new Map<string, number>();
  let cases = 0;
  const check = (bytes: Uint8Array, regions: string[], label: string): void => {
    writeFileSync(path, bytes);
    const err = readEverything(path);
    assert.ok(err instanceof ModelFormatError, `${label}: expected ModelFormatError, got ${String(err)}`);
    assert.ok(regions.some((r) => err.message.includes(r)), `${label}: "${err.message}" names none of ${regions.join(', ')}`);
    cases++;
  };
  for (let k = 0; k < 800; k++) {
    // Every fifth flip lands in the header or metadata, the rest anywhere.
    const pos = k % 5 === 0 ? (k % 10 === 0 ? Math.floor(random() * 64) : metadataOffset + Math.floor(random() * (pristine.length - metadataOffset))) : Math.floor(random() * pristine.length);
    const bytes = Buffer.from(pristine);
    bytes[pos] ^= 1 + Math.floor(random() * 255);
    const region = regionOf(pos);
    hits.set(region, (hits.get(region) ?? 0) + 1);
    check(bytes, [region], `flip at ${pos}`);
  }
  for (let k = 0; k < 200; k++) {
    const bytes = Buffer.from(pristine);
    const start = Math.floor(random() * pristine.length);
    const regions: string[] = [];
    for (let j = 0; j < 1 + Math.floor(random() * 16); j++) {
      const pos = Math.min(pristine.length - 1, start + j * (1 + Math.floor(random() * 8)));
      bytes[pos] ^= 1 + Math.floor(random() * 255);
      regions.push(regionOf(pos));
    }
    check(bytes, regions, `burst from ${start}`);
  }
  for (let k = 0; k < 200; k++) {
    const length = k < 10 ? k : Math.floor(random() * pristine.length);
    check(pristine.subarray(0, length), ['header'], `truncated to ${length}`);
  }
  const appended = Buffer.concat([pristine, Buffer.from([0])]);
  check(appended, ['header'], 'trailing byte');
  assert.ok(cases >= 1000);
  for (const s of segments) assert.ok((hits.get(`segment ${s.name}`) ?? 0) > 0, `no flip landed in segment ${s.name}`);
  assert.ok((hits.get('header') ?? 0) > 0 && (hits.get('metadata') ?? 0) > 0);
});

test('loadModel reports a corrupt block as a model_format error naming its segment', async () => {
  const bytes = Buffer.from(pristine);
  const seg = segments.find((s) => s.name === 'layer.1')!;
  bytes[seg.begin + 100] ^= 0x40;
  const path = join(work, 'corrupt-layer.ewm');
  writeFileSync(path, bytes);
  await assert.rejects(loadModel(path), (e: unknown) => e instanceof ModelFormatError && e.kind === 'model_format' && /segment layer\.1/.test(e.message));
});

test('one block decodes by positional reads without touching the rest: a damaged neighbour does not matter', () => {
  const bytes = Buffer.from(pristine);
  const damaged = segments.find((s) => s.name === 'layer.1')!;
  bytes.fill(0xee, damaged.begin, damaged.end);
  const path = join(work, 'neighbour.ewm');
  writeFileSync(path, bytes);
  const file = EwmFile.open(path);
  try {
    const i = file.segmentIndex('layer.0');
    const seg = file.readSegment(i);
    for (const t of file.metadata.tensors.filter((x) => x.segment === i)) {
      assert.ok(Buffer.from(file.tensorBytes(t, seg)).equals(Buffer.from(expected.get(t.name)!)), t.name);
    }
    assert.throws(() => file.readSegment(file.segmentIndex('layer.1')), /segment layer\.1: checksum mismatch/);
  } finally {
    file.close();
  }
});

test('with checksums bypassed, damaged streams never crash either decoder, and both agree', () => {
  const file = EwmFile.open(good);
  const random = seededRandom(77);
  let errors = 0;
  try {
    const t = file.metadata.tensors.find((x) => x.name.endsWith('mlp.up_proj.weight'))!;
    const seg = file.readSegment(t.segment);
    const lengths = file.metadata.segments[t.segment].codeLengths!;
    for (let k = 0; k < 500; k++) {
      const damaged = seg.slice();
      const enc = file.planedView(t, damaged);
      const target = k % 2 === 0 ? new Uint8Array(enc.index.buffer, enc.index.byteOffset, enc.index.byteLength) : new Uint8Array(enc.words.buffer, enc.words.byteOffset, enc.words.byteLength);
      for (let j = 0; j < 1 + (k % 4); j++) target[Math.floor(random() * target.length)] ^= 1 + Math.floor(random() * 255);
      const outRef = new Uint16Array(t.numElements!);
      const outNat = new Uint16Array(t.numElements!);
      let refErr: unknown = null;
      let natErr: unknown = null;
      try {
        decodePlanesReference(enc, lengths, 3, 'BF16', outRef);
      } catch (err) {
        refErr = err;
      }
      try {
        nativeDecodePlanes(enc, lengths, 3, outNat, { dtype: 'BF16' });
      } catch (err) {
        natErr = err;
      }
      assert.equal(natErr === null, refErr === null, `case ${k}: native ${String(natErr)} vs reference ${String(refErr)}`);
      if (refErr !== null) {
        assert.ok(refErr instanceof CodecError && natErr instanceof CodecError);
        errors++;
      } else {
        assert.deepEqual(outNat, outRef, `case ${k}: decoders disagree on a damaged stream`);
      }
    }
  } finally {
    file.close();
  }
  assert.ok(errors > 250, `only ${errors} of 500 damaged streams were detected structurally`);
});
