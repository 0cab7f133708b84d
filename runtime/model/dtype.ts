// Floating-point weight dtypes of safetensors files and exact conversions between them and fp32.

export type WeightDtype = 'BF16' | 'F16' | 'F32';

export const DTYPE_BYTES: Record<WeightDtype, number> = { BF16: 2, F16: 2, F32: 4 };

export function isWeightDtype(value: unknown): value is WeightDtype {
  return value === 'BF16' || value === 'F16' || value === 'F32';
}

/** bf16 is the top half of an fp32: widening is exact. */
export function bf16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  // Int32 view: `<< 16` yields an int32, so no conversion to an unsigned double per element.
  const out = new Int32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}

let halfTable: Uint32Array | null = null;

/** fp32 bit patterns of all 65536 halves; built once (256 KiB) so that conversion is one lookup. */
function halfToF32Table(): Uint32Array {
  if (halfTable !== null) return halfTable;
  const table = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // Zero or subnormal: mant × 2^-24 is exactly representable in fp32.
      f[0] = mant * 2 ** -24;
      table[h] = (sign | u[0]) >>> 0;
    } else if (exp === 31) {
      // Inf, or NaN with its payload kept in the top mantissa bits.
      table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      table[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  halfTable = table;
  return table;
}

/** IEEE half → fp32, exact for every input including subnormals, infinities and NaNs. */
export function f16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = halfToF32Table();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return dst;
}

/** fp32 → bf16 with round-to-nearest-even, as torch's `.to(torch.bfloat16)`; NaNs stay (quiet) NaNs. */
export function f32ToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) {
      dst[i] = (x >>> 16) | 0x0040;
    } else {
      dst[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
  }
  return dst;
}
