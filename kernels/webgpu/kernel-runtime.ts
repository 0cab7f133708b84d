// Per-device pipeline cache, uniform-parameter cache, buffer helpers and one-call dispatch for all WGSL kernels.

import type { GpuContext } from './device.js';
import { loadWgsl, type Defines } from './wgsl-loader.js';

/** Dawn reported a validation or out-of-memory error: the GPU results cannot be trusted. */
export class GpuError extends Error {
  constructor(message: string) {
    super('webgpu: ' + message);
    this.name = 'GpuError';
  }
}

/** A uniform field: plain numbers are u32, `{ f32 }` is a float. */
export type UniformField = number | { f32: number };

export const STORAGE = 0x0080 | 0x0004 | 0x0008; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage values)

/** Largest x dimension of a dispatch; kernels fold bigger grids into y (see `grid`). */
export const MAX_GROUPS_X = 65535;

/** Splits `count` workgroups into an (x, y) grid within the per-dimension limit. */
export function grid(count: number): [number, number] {
  if (count <= MAX_GROUPS_X) return [Math.max(1, count), 1];
  return [MAX_GROUPS_X, Math.ceil(count / MAX_GROUPS_X)];
}

export class KernelRuntime {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly passes = new WeakMap<GPUCommandEncoder, GPUComputePassEncoder>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** Dispatches recorded so far (benchmarks report dispatches per step). */
  dispatchCount = 0;

  /**
   * Pick the kernels a software adapter runs fast (barrier-free) instead of those hardware GPUs
   * want. Tests turn it off to run the hardware kernels end to end on SwiftShader.
   */
  readonly softwareKernels: boolean;

  constructor(
    readonly gpu: GpuContext,
    options: { kernels?: 'auto' | 'hardware' } = {},
  ) {
    this.device = gpu.device;
    this.softwareKernels = gpu.isSoftware && options.kernels !== 'hardware';
  }

  /** Defines every kernel sees: feature switches of this device. */
  baseDefines(): Defines {
    return { SUBGROUPS: this.gpu.hasSubgroups, F16: this.gpu.hasF16 };
  }

  /** The compiled pipeline of kernels/wgsl/<name>.wgsl with `defines` (cached). */
  pipeline(name: string, defines: Defines = {}): GPUComputePipeline {
    const all = { ...this.baseDefines(), ...defines };
    const key = name + JSON.stringify(Object.entries(all).sort());
    let p = this.pipelines.get(key);
    if (!p) {
      const code = loadWgsl(name, all);
      const module = this.device.createShaderModule({ code, label: name });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** A uniform buffer holding `fields` in order (4 bytes each, padded to 16); identical contents share one buffer. */
  uniform(fields: UniformField[]): GPUBuffer {
    const key = fields.map((f) => (typeof f === 'number' ? 'u' + f : 'f' + f.f32)).join(',');
    let buf = this.uniforms.get(key);
    if (!buf) {
      const bytes = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
      const view = new DataView(bytes);
      fields.forEach((f, i) => (typeof f === 'number' ? view.setUint32(i * 4, f >>> 0, true) : view.setFloat32(i * 4, f.f32, true)));
      // NOTE: positions and lengths live in storage buffers, so this cache stays small (one entry per shape).
      if (this.uniforms.size > 4096) this.uniforms.clear();
      buf = this.device.createBuffer({ size: bytes.byteLength, usage: 0x0040 | 0x0008 }); // UNIFORM | COPY_DST
      this.device.queue.writeBuffer(buf, 0, bytes);
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  /** A storage buffer of at least `byteLength` bytes (rounded up to 16). */
  buffer(byteLength: number, label?: string): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(byteLength / 16) * 16), usage: STORAGE, label });
  }

  /** A storage buffer initialised with `data`. */
  upload(data: ArrayBufferView, label?: string): GPUBuffer {
    const buf = this.buffer(data.byteLength, label);
    this.write(buf, data);
    return buf;
  }

  /** Writes `data` at `offset`, padding the copy to a multiple of 4 bytes. */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) this.device.queue.writeBuffer(buf, offset, bytes);
    else {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buf, offset, padded);
    }
  }

  /**
   * Records one compute dispatch; `bindings[i]` goes to @group(0) @binding(i). NOTE: consecutive
   * dispatches share one compute pass (WebGPU orders them and makes writes visible), and bind
   * groups are cached by pipeline and buffers: a decode step records hundreds of dispatches, and
   * their encoding cost is per-token overhead on a fast GPU.
   */
  dispatch(encoder: GPUCommandEncoder, pipeline: GPUComputePipeline, bindings: (GPUBuffer | GPUBufferBinding)[], groups: [number, number?, number?]): void {
    let pass = this.passes.get(encoder);
    if (!pass) {
      pass = encoder.beginComputePass();
      this.passes.set(encoder, pass);
    }
    this.dispatchCount++;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup(pipeline, bindings));
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
  }

  /** Ends the compute pass `dispatch` keeps open on `encoder` (before copies and `finish`). */
  endPass(encoder: GPUCommandEncoder): void {
    const pass = this.passes.get(encoder);
    if (pass) {
      pass.end();
      this.passes.delete(encoder);
    }
  }

  /** Records a buffer copy (closing any open compute pass first). */
  copy(encoder: GPUCommandEncoder, src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, byteLength: number): void {
    this.endPass(encoder);
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, byteLength);
  }

  /** Ends the open pass and submits the encoder's commands. */
  submit(encoder: GPUCommandEncoder): void {
    this.device.queue.submit([this.finish(encoder)]);
  }

  /** Ends the open pass and finishes the encoder (for timing a submit apart from its recording). */
  finish(encoder: GPUCommandEncoder): GPUCommandBuffer {
    this.endPass(encoder);
    return encoder.finish();
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  private bindGroup(pipeline: GPUComputePipeline, bindings: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
    const key = this.idOf(pipeline) + ':' + bindings.map((b) => ('buffer' in b ? `${this.idOf(b.buffer)}@${b.offset ?? 0}+${b.size ?? ''}` : this.idOf(b))).join(',');
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 8192) this.bindGroups.clear();
      group = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
      });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** Copies `byteLength` bytes of `buf` back to the CPU (waits for all submitted work). */
  async read(buf: GPUBuffer, byteLength: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(1); // GPUMapMode.READ
    const out = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    const error = this.gpu.takeError();
    // NOTE: an invalid pipeline or binding makes Dawn skip the dispatch; surface it at the next readback.
    if (error) throw new GpuError(error);
    return out;
  }

  async readF32(buf: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, count * 4, offset));
  }

  /** Submits `record`'s commands as one command buffer. */
  run(record: (encoder: GPUCommandEncoder) => void): void {
    const enc = this.device.createCommandEncoder();
    record(enc);
    this.submit(enc);
  }
}
