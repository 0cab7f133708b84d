// SiLU-gated MLP activation: out[i] = silu(gate[i]) * up[i], silu(x) = x * sigmoid(x).

struct Params {
  count: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.count) {
    return;
  }
  let g = gate[i];
  // Clamp the exponent: exp overflows past 88 and WGSL does not promise infinities.
  out[i] = g / (1.0 + exp(min(-g, 80.0))) * up[i];
}
