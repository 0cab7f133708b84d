// Every one of the 65,536 16-bit patterns (BF16 and F16, matrix and vector) survives convert → decompress and decodes to the exact FP32.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { decompressEwm } from './ewm-decompress.js';
import { EwmFile } from './ewm-reader.js';
import { SafetensorsCheckpoint } from '../model/safetensors-checkpoint.js';
import { writeSafetensors } from '../model/safetensors-writer.js';
import { TINY_LLAMA_CONFIG } from './ewm-test-util.js';
import { seededRandom } from '../../kernels/codec/synthetic.js';
import { f16BitsToF32Bits } from '../../kernels/codec/reference-codec.js';

const work = mkdtempSync(join(tmpdir(), 'ewm-every-pattern-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** All 65,536 patterns in increasing order, reversed, and shuffled (so each sits at many chunk positions). */
function allPatterns(order: 'up' | 'down' | 'shuffled', seed: number): Uint16Array {
  const out = new Uint16Array(65536).map((_, i) => (order === 'down' ? 65535 - i : i));
  if (order === 'shuffled') {
    const random = seededRandom(seed);
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
  }
  return out;
}

for (const dtype of ['BF16', 'F16'] as const) {
  test(`${dtype}: all 65,536 bit patterns round-trip byte for byte and decode to the exact FP32 (rank 1 and 2, 1 and 2 threads)`, () => {
    const src = join(work, `${dtype}-src`);
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'config.json'), JSON.stringify({ ...TINY_LLAMA_CONFIG, torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float16' }));
    // A Gaussian-like weight is not needed: the codebook must cover all 256 symbols here, and
    // every pattern (±0, subnormals, ±inf, each NaN payload) lands in a matrix and in a vector.
    const expected = new Map<string, Uint16Array>([
      ['model.embed_tokens.weight', allPatterns('up', 0)],
      ['model.layers.0.self_attn.q_proj.weight', allPatterns('shuffled', 1)],
      ['model.layers.0.input_layernorm.weight', allPatterns('down', 0)],
      ['model.layers.1.mlp.up_proj.weight', allPatterns('shuffled', 2)],
      ['lm_head.weight', allPatterns('shuffled', 3)],
    ]);
    writeSafetensors(
      join(src, 'model.safetensors'),
      [...expected].map(([name, data]) => ({ name, dtype, shape: name.endsWith('layernorm.weight') ? [65536] : [256, 256], data: new Uint8Array(data.buffer) })),
    );
    const ewm = join(work, `${dtype}.ewm`);
    convertToEwm(src, ewm, { chunkSize: 256 });
    const out = join(work, `${dtype}-out`);
    decompressEwm(ewm, out);

    const back = SafetensorsCheckpoint.openFolder(out);
    const file = EwmFile.open(ewm);
    try {
      for (const [name, data] of expected) {
        assert.equal(back.info(name).dtype, dtype, name);
        assert.ok(Buffer.from(back.readRaw(name)).equals(Buffer.from(data.buffer)), `${name}: decompressed bytes differ`);
        const t = file.tensor(name);
        assert.equal(t.codec, 'huff8', name);
        const want = new Uint32Array(data.length);
        for (let i = 0; i < data.length; i++) want[i] = dtype === 'BF16' ? (data[i] << 16) >>> 0 : f16BitsToF32Bits(data[i]);
        for (const threads of [1, 2]) {
          const f32 = new Float32Array(data.length).fill(Number.NaN);
          file.decodeInto(t, file.readSegment(t.segment), f32, threads);
          assert.ok(Buffer.from(f32.buffer).equals(Buffer.from(want.buffer)), `${name}: FP32 decode with ${threads} threads differs`);
        }
      }
      for (const s of file.metadata.segments) assert.equal(s.codeLengths!.filter((l) => l > 0).length, 256, `segment ${s.name} codes every symbol`);
    } finally {
      back.close();
      file.close();
    }
  });
}
