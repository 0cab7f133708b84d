// Output epilogue of the matmul kernels: y = t, y += t (ACCUMULATE: the residual add), or y = silu(gate) * t (GLU: the
// SiLU-gated MLP, t being the up projection). NOTE: each fused epilogue saves the model a dispatch and a barrier per block.
#if GLU
@group(0) @binding(${GATE_BINDING}) var<storage, read> gate: array<f32>; // laid out as y
#endif

fn store_y(i: u32, t: f32) {
#if ACCUMULATE
  y[i] += t;
#else
#if GLU
  let g = gate[i];
  // As silu-mul.wgsl: clamp the exponent (exp overflows past 88 and WGSL does not promise infinities).
  y[i] = g / (1.0 + exp(min(-g, 80.0))) * t;
#else
  y[i] = t;
#endif
#endif
}
