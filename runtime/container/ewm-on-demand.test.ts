// A container opened with on-demand segments decodes the same bits as one read whole at open, and holds no block segments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { EwmWeightProvider } from './ewm-weights.js';
import { writeEdgeValueFolder } from './ewm-test-util.js';
import { loadTokenizerAndTemplate } from '../model/load-model.js';
import { PRECISIONS } from './precision.js';

const work = mkdtempSync(join(tmpdir(), 'ewm-on-demand-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('on-demand segments: every block at every rung bit-identical to the resident store; nothing resident', async () => {
  const src = join(work, 'src');
  writeEdgeValueFolder(src, 1 + Math.floor(Math.random() * 1e6));
  const ewm = join(work, 'm.ewm');
  convertToEwm(src, ewm, { chunkSize: 256 });
  const { config } = await loadTokenizerAndTemplate(ewm);
  const resident = EwmWeightProvider.open(ewm, config, { threads: 1 });
  const onDemand = EwmWeightProvider.open(ewm, config, { threads: 1, onDemand: true });
  try {
    assert.ok(resident.residentBytes > 0);
    assert.equal(onDemand.residentBytes, 0, 'no compressed segment held');
    assert.ok(bytesOf(onDemand.embedding()).equals(bytesOf(resident.embedding())), 'embedding');
    assert.ok(bytesOf(onDemand.lmHead()).equals(bytesOf(resident.lmHead())), 'LM head');
    for (const rung of PRECISIONS) {
      for (let layer = 0; layer < config.numLayers; layer++) {
        const a = await resident.layerAt(layer, rung);
        const copies = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v === null ? null : Float32Array.from(v)]));
        const b = await onDemand.layerAt(layer, rung);
        for (const [key, v] of Object.entries(b)) {
          const want = copies[key];
          if (v === null || want === null) assert.equal(v, want, `${rung.name} layer ${layer} ${key}`);
          else assert.ok(bytesOf(v).equals(bytesOf(want)), `${rung.name} layer ${layer} ${key} differs`);
        }
      }
    }
  } finally {
    resident.close();
    onDemand.close();
  }
});

test('on-demand segments: a corrupted block is a checksum error when the block is read, not at open', async () => {
  const src = join(work, 'src2');
  writeEdgeValueFolder(src, 5);
  const ewm = join(work, 'bad.ewm');
  convertToEwm(src, ewm, { chunkSize: 256 });
  const { config } = await loadTokenizerAndTemplate(ewm);
  const probe = EwmWeightProvider.open(ewm, config, { threads: 1, onDemand: true });
  const segment = probe.ewm.metadata.segments[probe.segmentOfLayer(0)];
  probe.close();
  const bytes = readFileSync(ewm);
  bytes[Number(segment.offset) + 100] ^= 0x10; // one flipped bit inside block 0's segment
  writeFileSync(ewm, bytes);
  const provider = EwmWeightProvider.open(ewm, config, { threads: 1, onDemand: true });
  try {
    await assert.rejects(provider.layer(0), /checksum|crc/i);
    assert.throws(() => EwmWeightProvider.open(ewm, config, { threads: 1 }), /checksum|crc/i, 'the resident open still checks every segment');
  } finally {
    provider.close();
  }
});
