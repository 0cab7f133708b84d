// Seeded synthetic weights for codec tests and benchmarks: Gaussian BF16/FP16 and every IEEE edge value.

import { f32BitsToBf16Bits } from './bf16.js';

/** mulberry32: small, fast, seeded; good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** `n` BF16 patterns of N(0, std²) values (Box-Muller, both outputs used). */
export function gaussianBf16(n: number, std: number, seed: number): Uint16Array {
  const random = seededRandom(seed);
  const f = new Float32Array(2);
  const bits = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random())) * std;
    const a = 2 * Math.PI * random();
    f[0] = r * Math.cos(a);
    f[1] = r * Math.sin(a);
    out[i] = f32BitsToBf16Bits(bits[0]);
    if (i + 1 < n) out[i + 1] = f32BitsToBf16Bits(bits[1]);
  }
  return out;
}

/** `n` FP16 patterns of N(0, std²) values (|x| well inside FP16 range), rounded by truncation of a float. */
export function gaussianF16(n: number, std: number, seed: number): Uint16Array {
  const random = seededRandom(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = gaussian(random) * std;
    const a = Math.abs(x);
    let h: number;
    if (a < 2 ** -24) h = 0;
    else if (a < 2 ** -14) h = Math.round(a / 2 ** -24);
    else {
      const e = Math.floor(Math.log2(a));
      h = ((e + 15) << 10) | Math.min(0x3ff, Math.floor((a / 2 ** e - 1) * 1024));
    }
    out[i] = (x < 0 ? 0x8000 : 0) | h;
  }
  return out;
}

/** 16-bit patterns that must survive bit for bit: ±0, subnormals, ±max, ±inf, NaNs with many payloads. */
export const EDGE_PATTERNS_16: readonly number[] = [
  0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x807f, 0x0040, 0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x7f80, 0xff80,
  0x7fc0, 0xffc0, 0x7f81, 0xff81, 0x7fff, 0xffff, 0x7fa5, 0x0080, 0x8080, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x7c01,
  0xfdff, 0x0400, 0x7bff,
];

/** Gaussian BF16 with edge patterns sprinkled in (and a stretch of uniformly random patterns). */
export function bf16WithEdges(n: number, seed: number): Uint16Array {
  const out = gaussianBf16(n, 0.02, seed);
  const random = seededRandom(seed ^ 0x9e3779b9);
  for (let i = 0; i < n; i += 1 + Math.floor(random() * 64)) out[i] = EDGE_PATTERNS_16[Math.floor(random() * EDGE_PATTERNS_16.length)];
  const start = Math.floor(n / 3);
  for (let i = start; i < Math.min(n, start + 2048); i++) out[i] = Math.floor(random() * 65536);
  return out;
}
