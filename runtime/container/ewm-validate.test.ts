// Well-checksummed but inconsistent metadata is refused with a ModelFormatError naming the metadata and the problem.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { ModelFormatError } from '../errors.js';
import { crc32c } from '../../kernels/codec/codec.js';
import { convertToEwm } from './ewm-writer.js';
import { EwmFile } from './ewm-reader.js';
import { encodeHeader, type EwmMetadata } from './ewm-format.js';
import { writeEdgeValueFolder } from './ewm-test-util.js';

const work = mkdtempSync(join(tmpdir(), 'ewm-validate-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
writeEdgeValueFolder(join(work, 'src'), 9);
const good = join(work, 'good.ewm');
convertToEwm(join(work, 'src'), good);
const packr = new Packr({ useRecords: false });

/** The container with its metadata changed by `mutate`, checksums and header recomputed. */
function withMetadata(mutate: (m: EwmMetadata & Record<string, unknown>) => void): string {
  const file = EwmFile.open(good);
  const { metadataOffset } = file.header;
  file.close();
  const bytes = readFileSync(good);
  const meta = packr.unpack(bytes.subarray(metadataOffset)) as EwmMetadata & Record<string, unknown>;
  mutate(meta);
  const packed = packr.pack(meta);
  const header = encodeHeader({ metadataOffset, metadataLength: packed.length, fileLength: metadataOffset + packed.length, metadataCrc32c: crc32c(packed) }, (b) => crc32c(b));
  const path = join(work, 'case.ewm');
  writeFileSync(path, Buffer.concat([header, bytes.subarray(64, metadataOffset), packed]));
  return path;
}

test('rewritten but unchanged metadata still opens (the helper itself is sound)', () => {
  EwmFile.open(withMetadata(() => {})).close();
});

const matrix = (m: EwmMetadata): EwmMetadata['tensors'][number] => m.tensors.find((t) => t.codec === 'huff8' && t.shape.length === 2)!;
const vector = (m: EwmMetadata): EwmMetadata['tensors'][number] => m.tensors.find((t) => t.codec === 'huff8' && t.shape.length === 1)!;

test('a version-1 container is refused with a message naming the version and how to reconvert', () => {
  const bytes = readFileSync(good);
  bytes.writeUInt32LE(1, 8);
  bytes.writeUInt32LE(0, 44);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 64)), 44);
  const path = join(work, 'v1.ewm');
  writeFileSync(path, bytes);
  assert.throws(() => EwmFile.open(path).close(), (e: unknown) => e instanceof ModelFormatError && /version 1/.test(e.message) && /edgewise convert/.test(e.message));
});

test('each inconsistency is named', () => {
  const cases: [string, (m: EwmMetadata & Record<string, unknown>) => void, RegExp][] = [
    ['format', (m) => (m.format = 'other' as never), /format field/],
    ['codec', (m) => (m.codec.version = 1), /huff8 version 2/],
    ['overlap', (m) => (m.segments[1].offset = m.segments[0].offset), /overlaps/],
    ['alignment', (m) => (m.segments[0].length += 1), /multiples of 64/],
    ['codebook size', (m) => (m.segments[1].codeLengths = new Uint8Array(10)), /256 bytes/],
    ['segment index', (m) => (m.tensors[0].segment = 99), /segment index out of range/],
    ['shape', (m) => (m.tensors[1].shape = [3, 3]), /numElements does not match shape/],
    ['chunk size', (m) => (m.tensors[1].chunkSize = 1000), /power of two/],
    ['words', (m) => (m.tensors[1].bitLength = 32 * m.tensors[1].numWords!), /bit length does not fit/],
    ['range', (m) => (matrix(m).planeOffsets![2] = m.segments[matrix(m).segment].length), /plane 2 outside part 2/],
    ['plane in the wrong part', (m) => (matrix(m).planeOffsets![1] = matrix(m).planeOffsets![0]), /plane 1 outside part 1/],
    ['vector plane outside part 0', (m) => (vector(m).planeOffsets![2] = m.segments[vector(m).segment].parts[0].length), /plane 2 outside part 0/],
    ['parts', (m) => (m.segments[1].parts[0].length += 64), /parts do not add up/],
    ['duplicate', (m) => m.tensors.push({ ...m.tensors[0] }), /listed twice/],
    ['file list', (m) => m.safetensors[0].tensors.push('nope'), /unknown tensors/],
    ['dtype', (m) => (m.tensors[2].dtype = 'I8' as never), /unknown dtype/],
    ['safetensors header', (m) => (m.safetensors[0].header = 5 as never), /header must be text or nil/],
    ['binary file', (m) => (m.binaryFiles = { 'tokenizer.model': 'text' as never }), /binaryFiles must map names to bytes/],
  ];
  for (const [label, mutate, problem] of cases) {
    const path = withMetadata(mutate);
    assert.throws(
      () => EwmFile.open(path).close(),
      (e: unknown) => e instanceof ModelFormatError && /case\.ewm metadata: /.test(e.message) && problem.test(e.message),
      label,
    );
  }
});
