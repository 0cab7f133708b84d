// Precision rungs from one store: each rung's weights vs mask-and-fill of the source, bytes read, compact cache form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from './ewm-writer.js';
import { EwmFile } from './ewm-reader.js';
import { EwmWeightProvider } from './ewm-weights.js';
import { TINY_LLAMA_CONFIG, tinyLlamaShapes, writeEdgeValueFolder } from './ewm-test-util.js';
import { PRECISIONS } from './precision.js';
import { describeEwm } from './ewm-info.js';
import { parseHfConfig } from '../model/hf-config.js';
import { writeSafetensors } from '../model/safetensors-writer.js';
import { gaussianF16 } from '../../kernels/codec/synthetic.js';
import { f16BitsToF32Bits } from '../../kernels/codec/reference-codec.js';
import type { LayerWeights } from '../engine/runner-types.js';

const work = mkdtempSync(join(tmpdir(), 'ewm-precision-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const seed = Date.now() % 10_000;

/** Independent definition of a rung's 16-bit pattern: drop low mantissa bits, set the midpoint bit unless the exponent is 0 or all ones. */
function rungPattern(w: number, mantissaDropped: number, f16: boolean): number {
  if (mantissaDropped === 0) return w;
  const kept = w & ~((1 << mantissaDropped) - 1) & 0xffff;
  const exp = f16 ? (w >>> 10) & 0x1f : (w >>> 7) & 0xff;
  return exp === 0 || exp === (f16 ? 0x1f : 0xff) ? kept : kept | (1 << (mantissaDropped - 1));
}

const KEY_OF: Record<string, keyof LayerWeights> = {
  'input_layernorm.weight': 'inputNorm', 'self_attn.q_proj.weight': 'qProj', 'self_attn.k_proj.weight': 'kProj', 'self_attn.v_proj.weight': 'vProj',
  'self_attn.o_proj.weight': 'oProj', 'post_attention_layernorm.weight': 'postAttentionNorm', 'mlp.gate_proj.weight': 'gateProj',
  'mlp.up_proj.weight': 'upProj', 'mlp.down_proj.weight': 'downProj',
};

function writeF16Folder(dir: string): Map<string, Uint8Array> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...TINY_LLAMA_CONFIG, torch_dtype: 'float16' }));
  const bytes = new Map<string, Uint8Array>();
  const tensors = tinyLlamaShapes().map(([name, shape], k) => {
    const data = new Uint8Array(gaussianF16(shape.reduce((a, d) => a * d, 1), 0.05, seed + k).buffer);
    bytes.set(name, data);
    return { name, dtype: 'F16' as const, shape, data };
  });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return bytes;
}

for (const dtype of ['BF16', 'F16'] as const) {
  test(`${dtype}: every rung's block equals mask-and-fill of the source; vectors stay lossless; compact form expands to the same (seed ${seed})`, async () => {
    const src = join(work, `src-${dtype}`);
    const source = dtype === 'BF16' ? writeEdgeValueFolder(src, seed) : writeF16Folder(src);
    const ewm = join(work, `${dtype}.ewm`);
    const report = convertToEwm(src, ewm);
    const config = parseHfConfig({ ...TINY_LLAMA_CONFIG }, 'config.json');
    const provider = EwmWeightProvider.open(ewm, config, { threads: 2 });
    try {
      for (const rung of PRECISIONS) {
        const dropped = 7 - rung.mantissaBits;
        for (let layer = 0; layer < config.numLayers; layer++) {
          const decoded = await provider.layerAt(layer, rung);
          const snapshot = Object.fromEntries(Object.entries(decoded).map(([k, v]) => [k, v === null ? null : Float32Array.from(v as Float32Array)]));
          for (const [suffix, key] of Object.entries(KEY_OF)) {
            const halves = new Uint16Array(source.get(`model.layers.${layer}.${suffix}`)!.slice().buffer);
            const vector = key === 'inputNorm' || key === 'postAttentionNorm';
            const want = Uint32Array.from(halves, (w) => {
              const p = rungPattern(w, vector ? 0 : dropped, dtype === 'F16');
              return dtype === 'BF16' ? (p << 16) >>> 0 : f16BitsToF32Bits(p);
            });
            assert.deepEqual(new Uint32Array((snapshot[key] as Float32Array).buffer), want, `${rung.name} layer ${layer} ${key}`);
          }
          if (!rung.lossless) {
            const compact = provider.compactAt(layer, rung);
            const real = compact.tensors.reduce((a, t) => a + (t.values?.byteLength ?? 0) + (t.symbols?.byteLength ?? 0) + t.planes.reduce((x, p) => x + p.byteLength, 0), 0);
            assert.equal(compact.bytes, real, 'compact bytes count what is held');
            const lossless = Object.values(snapshot).reduce((a, v) => a + (v === null ? 0 : (v as Float32Array).byteLength), 0);
            assert.ok(real < lossless / 2, `${rung.name}: compact ${real} bytes vs FP32 ${lossless}`);
            const expanded = provider.expandCompact(compact);
            for (const [k, v] of Object.entries(snapshot)) if (v !== null) assert.deepEqual(new Uint32Array((expanded[k as keyof LayerWeights] as Float32Array).slice().buffer), new Uint32Array(v.buffer), `${rung.name} expand ${k}`);
          }
        }
      }
    } finally {
      provider.close();
    }
    // Bytes read: each rung reads a strict prefix of every block segment; the report states bits/weight per rung.
    const file = EwmFile.open(ewm);
    try {
      const i = file.segmentIndex('layer.0');
      const read = PRECISIONS.map((r) => file.readSegmentPrefix(i, r.planes).length);
      assert.ok(read[0] > read[1] && read[1] > read[2], `bytes read per rung ${read}`);
      assert.equal(read[0], file.metadata.segments[i].length);
      const bits = PRECISIONS.map((r) => report.rungBitsPerWeight[r.name]);
      assert.ok(bits[0] > bits[1] + 3 && bits[1] > bits[2] + 1.5, `bits/weight per rung ${bits}`);
      // info states the same read figures, and cached bytes from the tensors: FP32 lossless, 1 + planes/4 below (vectors FP32).
      const info = describeEwm(ewm);
      assert.deepEqual(info.rungs.map((r) => r.readBitsPerWeight), bits);
      assert.equal(info.codedDtype, dtype);
      assert.deepEqual(info.rungs.map((r) => r.mantissaBits), dtype === 'BF16' ? [7, 3, 1] : [10, 6, 4]);
      const cached = info.rungs.map((r) => r.cachedBytesPerWeight);
      assert.equal(cached[0], 4);
      assert.ok(cached[1] > 1.5 && cached[1] < 1.6 && cached[2] > 1.25 && cached[2] < 1.35, `cached bytes/weight ${cached}`);
    } finally {
      file.close();
    }
  });
}

