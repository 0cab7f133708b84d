// Each forward WGSL kernel against its plain TypeScript reference on fresh random inputs (SwiftShader in CI).

import { describe, it } from 'node:test';
import { bf16ToF32 } from '../../runtime/model/dtype.js';
import { uploadWeight } from './gpu-weight.js';
import { matmul } from './matmul.js';
import { gather, rmsnorm } from './norm-gather.js';
import { attention, kvStore, rope, META_STRIDE } from './attention.js';
import { addInPlace, siluMul } from './elementwise.js';
import { assertClose, gpuSuite, poison, randBf16, randUniform } from './gpu-test-util.js';
import { addRef, attentionRef, gatherRef, matmulRef, rmsnormRef, ropeRef, siluMulRef } from '../reference/forward-ops.js';

for (const subgroups of [true, false]) {
  describe(`forward kernels (subgroups ${subgroups ? 'when offered' : 'off'})`, () => {
    const suite = gpuSuite({ open: { disableSubgroups: !subgroups } });
    const { seed, prng, ready } = suite;
    const out = (count: number): GPUBuffer => {
      const b = suite.rt.buffer(count * 4);
      poison(suite.rt, b);
      return b;
    };

    for (const format of ['f32', 'bf16'] as const) {
      // Epilogues: 'acc' y += product (residual add), 'glu' y = silu(gate) * product (SiLU-gated MLP).
      for (const [m, n, k, withBias, kernel, epilogue] of [
        [1, 67, 96, false, 'gemv', 'none'],
        [2, 19, 2056, true, 'gemv', 'acc'],
        [3, 40, 130, true, 'gemv', 'glu'],
        [8, 33, 64, false, 'gemv', 'acc'],
        [1, 24, 512, true, 'gemv', 'glu'],
        [37, 45, 70, true, 'gemm', 'acc'],
        [5, 64, 48, false, 'gemm', 'none'],
        [12, 40, 64, true, 'gemm', 'glu'],
        [11, 70, 36, true, 'naive', 'none'],
        [4, 21, 40, false, 'naive', 'acc'],
        [3, 22, 38, true, 'naive', 'glu'],
      ] as const) {
        it(`matmul ${format} m=${m} n=${n} k=${k}${withBias ? ' +bias' : ''} ${epilogue} (${kernel})`, async (t) => {
          if (!ready(t)) return;
          const x = randUniform(prng, m * k);
          const wBits = format === 'bf16' ? randBf16(prng, n * k) : null;
          const w = wBits ? bf16ToF32(wBits) : randUniform(prng, n * k);
          const bias = withBias ? randUniform(prng, n) : null;
          // Accumulating products start from fresh random y (the residual), others from poison.
          const y0 = epilogue === 'acc' ? randUniform(prng, m * n) : null;
          const gate = epilogue === 'glu' ? randUniform(prng, m * n, 4) : null;
          const y = y0 ? suite.rt.upload(y0) : out(m * n);
          const epi = { accumulate: epilogue === 'acc', gate: gate && suite.rt.upload(gate) };
          suite.rt.run((enc) =>
            matmul(suite.rt, enc, { x: suite.rt.upload(x), w: uploadWeight(suite.rt, wBits ?? w), y, bias: bias && suite.rt.upload(bias), m, n, k, ...epi }, { kernel }),
          );
          let want = matmulRef(x, w, m, n, k, bias);
          if (y0) want.forEach((v, i) => (want[i] = y0[i] + v));
          if (gate) want = siluMulRef(gate, want);
          assertClose(await suite.rt.readF32(y, m * n), want, `matmul seed=${seed}`, 1e-5, 1e-4);
        });
      }
      it(`gather ${format}`, async (t) => {
        if (!ready(t)) return;
        const rows = 50;
        const hidden = 300;
        const bits = format === 'bf16' ? randBf16(prng, rows * hidden) : null;
        const table = bits ? bf16ToF32(bits) : randUniform(prng, rows * hidden);
        const ids = [3, 49, 0, 17, 17, 8];
        const meta = new Uint32Array(ids.length * META_STRIDE);
        ids.forEach((id, i) => (meta[i * META_STRIDE] = id));
        const y = out(ids.length * hidden);
        suite.rt.run((enc) => gather(suite.rt, enc, { ids: suite.rt.upload(meta), idStride: META_STRIDE, table: uploadWeight(suite.rt, bits ?? table), out: y, hidden, count: ids.length }));
        assertClose(await suite.rt.readF32(y, ids.length * hidden), gatherRef(table, ids, hidden), `gather seed=${seed}`, 0, 0);
      });
    }

    it('rmsnorm', async (t) => {
      if (!ready(t)) return;
      const rows = 5;
      const hidden = 520;
      const x = randUniform(prng, rows * hidden, 3);
      const w = randUniform(prng, hidden);
      const y = out(rows * hidden);
      suite.rt.run((enc) => rmsnorm(suite.rt, enc, { x: suite.rt.upload(x), weight: suite.rt.upload(w), y, hidden, rows, eps: 1e-5 }));
      assertClose(await suite.rt.readF32(y, rows * hidden), rmsnormRef(x, w, rows, hidden, 1e-5), `rmsnorm seed=${seed}`);
    });

    for (const heads2 of [0, 2]) {
      it(`rope${heads2 ? ' of q and k in one dispatch' : ''}`, async (t) => {
        if (!ready(t)) return;
        const heads = 3;
        const headDim = 16;
        const maxPos = 20;
        const positions = [0, 7, 19, 4];
        // Rows are cat(a, a) of random angles a, the layout transformers' cos/sin have.
        const half = randUniform(prng, maxPos * (headDim / 2), 3);
        const angles = new Float32Array(maxPos * headDim).map((_, i) => half[Math.floor(i / headDim) * (headDim / 2) + (i % (headDim / 2))]);
        const cos = angles.map(Math.cos);
        const sin = angles.map(Math.sin);
        const x = randUniform(prng, positions.length * heads * headDim);
        const x2 = heads2 ? randUniform(prng, positions.length * heads2 * headDim) : new Float32Array(4);
        const meta = new Uint32Array(positions.length * META_STRIDE);
        positions.forEach((p, i) => (meta[i * META_STRIDE + 1] = p));
        const buf = suite.rt.upload(x);
        const buf2 = suite.rt.upload(x2);
        const second = heads2 ? { x: buf2, heads: heads2 } : undefined;
        suite.rt.run((enc) => rope(suite.rt, enc, { meta: suite.rt.upload(meta), cos: suite.rt.upload(cos), sin: suite.rt.upload(sin), x: buf, tokens: positions.length, heads, headDim, second }));
        assertClose(await suite.rt.readF32(buf, x.length), ropeRef(x, positions, heads, headDim, cos, sin), `rope seed=${seed}`);
        if (heads2) assertClose(await suite.rt.readF32(buf2, x2.length), ropeRef(x2, positions, heads2, headDim, cos, sin), `rope (second) seed=${seed}`);
      });
    }

    for (const [heads, kvHeads, headDim] of [
      [4, 2, 32],
      [3, 3, 80],
    ] as const) {
      it(`kv-store + attention heads=${heads} kv=${kvHeads} headDim=${headDim}`, async (t) => {
        if (!ready(t)) return;
        const maxLen = 150;
        const slots = 3;
        // Tokens of this step: a 3-token prefill chunk of slot 2 at 0..2, a decode of slot 0 at 140 (three tiles), one of slot 1 at 64.
        const toks = [
          { slot: 2, pos: 0 },
          { slot: 2, pos: 1 },
          { slot: 2, pos: 2 },
          { slot: 0, pos: 140 },
          { slot: 1, pos: 64 },
        ];
        const cacheLen = slots * kvHeads * maxLen * headDim;
        const kCache = randUniform(prng, cacheLen);
        const vCache = randUniform(prng, cacheLen);
        const rowLen = kvHeads * headDim;
        const kNew = randUniform(prng, toks.length * rowLen);
        const vNew = randUniform(prng, toks.length * rowLen);
        const q = randUniform(prng, toks.length * heads * headDim, 2);
        const meta = new Uint32Array(toks.length * META_STRIDE);
        toks.forEach((tk, i) => meta.set([0, tk.pos, tk.slot, 0], i * META_STRIDE));
        // Host copy of what the caches hold after the append.
        toks.forEach((tk, i) => {
          for (let h = 0; h < kvHeads; h++) {
            const dst = ((tk.slot * kvHeads + h) * maxLen + tk.pos) * headDim;
            kCache.set(kNew.subarray(i * rowLen + h * headDim, i * rowLen + (h + 1) * headDim), dst);
            vCache.set(vNew.subarray(i * rowLen + h * headDim, i * rowLen + (h + 1) * headDim), dst);
          }
        });
        const kBuf = suite.rt.upload(randUniform(prng, cacheLen));
        const vBuf = suite.rt.upload(randUniform(prng, cacheLen));
        suite.rt.write(kBuf, kCache);
        suite.rt.write(vBuf, vCache);
        // Poison the appended rows on the GPU so kv-store must write them.
        toks.forEach((tk) => {
          for (let h = 0; h < kvHeads; h++) {
            const at = (((tk.slot * kvHeads + h) * maxLen + tk.pos) * headDim) * 4;
            suite.rt.write(kBuf, new Float32Array(headDim).fill(NaN), at);
            suite.rt.write(vBuf, new Float32Array(headDim).fill(NaN), at);
          }
        });
        const metaBuf = suite.rt.upload(meta);
        const y = out(q.length);
        suite.rt.run((enc) => {
          kvStore(suite.rt, enc, { meta: metaBuf, k: suite.rt.upload(kNew), v: suite.rt.upload(vNew), kCache: kBuf, vCache: vBuf, tokens: toks.length, kvHeads, headDim, maxLen });
          attention(suite.rt, enc, { meta: metaBuf, q: suite.rt.upload(q), kCache: kBuf, vCache: vBuf, out: y, tokens: toks.length, heads, kvHeads, headDim, maxLen });
        });
        assertClose(await suite.rt.readF32(kBuf, cacheLen), kCache, 'k cache', 0, 0);
        const kvOf = (i: number) => {
          const { slot, pos } = toks[i];
          const len = pos + 1;
          const k = new Float32Array(kvHeads * len * headDim);
          const v = new Float32Array(kvHeads * len * headDim);
          for (let h = 0; h < kvHeads; h++) {
            const src = (slot * kvHeads + h) * maxLen * headDim;
            k.set(kCache.subarray(src, src + len * headDim), h * len * headDim);
            v.set(vCache.subarray(src, src + len * headDim), h * len * headDim);
          }
          return { k, v, len };
        };
        const want = attentionRef(q, kvOf, toks.length, heads, kvHeads, headDim);
        assertClose(await suite.rt.readF32(y, q.length), want, `attention seed=${seed}`, 1e-5, 1e-4);
      });
    }

    it('silu-mul and residual add', async (t) => {
      if (!ready(t)) return;
      const count = 1000;
      const g = randUniform(prng, count, 6);
      const u = randUniform(prng, count);
      const y = out(count);
      const xBuf = suite.rt.upload(u);
      suite.rt.run((enc) => {
        siluMul(suite.rt, enc, { gate: suite.rt.upload(g), up: suite.rt.upload(u), out: y, count });
      });
      const wantSilu = siluMulRef(g, u);
      assertClose(await suite.rt.readF32(y, count), wantSilu, `silu-mul seed=${seed}`);
      suite.rt.run((enc) => addInPlace(suite.rt, enc, { x: xBuf, y, count }));
      assertClose(await suite.rt.readF32(xBuf, count), addRef(u, wantSilu), `add seed=${seed}`);
    });
  });
}
