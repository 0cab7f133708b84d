// FP32 → BF16 rounding (round to nearest even, NaN payload kept), used by `convert --cast-fp32`.

/** BF16 bit pattern nearest to the FP32 bit pattern `f` (ties to even); NaN keeps sign and top payload, stays NaN. */
export function f32BitsToBf16Bits(f: number): number {
  f >>>= 0;
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x007fffff) !== 0) {
    const top = f >>> 16;
    // A payload living only in the low 16 bits would truncate to inf: keep it a NaN.
    return (top & 0x7f) === 0 ? top | 0x40 : top;
  }
  const rounding = 0x7fff + ((f >>> 16) & 1);
  return ((f + rounding) >>> 16) & 0xffff;
}

/** Casts a whole FP32 array to BF16 bit patterns. */
export function castF32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  return out;
}
