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

test('each inconsistency is named', () => {
  const cases: [string, (m: EwmMetadata & Record<string, unknown>) => void, RegExp][] = [
    ['format', (m) => (m.format = 'other' as never), /format field/],
    ['codec', (m) => (m.codec.version = 2), /huff8 version 1/],
    ['overlap', (m) => (m.segments[1].offset = m.segments[0].offset), /overlaps/],
    ['alignment', (m) => (m.segments[0].length += 1), /multiples of 64/],
    ['codebook size', (m) => (m.segments[1].codeLengths = new Uint8Array(10)), /256 bytes/],
    ['segment index', (m) => (m.tensors[0].segment = 99), /segment index out of range/],
    ['shape', (m) => (m.tensors[1].shape = [3, 3]), /numElements does not match shape/],
    ['chunk size', (m) => (m.tensors[1].chunkSize = 1000), /power of two/],
    ['words', (m) => (m.tensors[1].bitLength = 32 * m.tensors[1].numWords!), /bit length does not fit/],
    ['range', (m) => (m.tensors[1].rawOffset = m.segments[m.tensors[1].segment].length), /outside their segment/],
    ['duplicate', (m) => m.tensors.push({ ...m.tensors[0] }), /listed twice/],
    ['file list', (m) => m.safetensors[0].tensors.push('nope'), /unknown tensors/],
    ['dtype', (m) => (m.tensors[2].dtype = 'I8' as never), /unknown dtype/],
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
