// GPU KV cache: per block one K and one V buffer laid out [slots, kvHeads, maxSeqLen, headDim]; sequences own slots.

import type { KernelRuntime } from '../../kernels/webgpu/kernel-runtime.js';
import type { ModelConfig } from '../model/model-config.js';

/**
 * NOTE: one buffer per block for all sequences (not one per sequence) so attention for a whole
 * mixed batch is a single dispatch that finds each token's cache through its slot number.
 * Slots grow by doubling (buffers copied on the GPU); freed slots are reused.
 */
export class GpuKvPool {
  private slotsCapacity: number;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  keys: GPUBuffer[];
  values: GPUBuffer[];

  constructor(
    private readonly rt: KernelRuntime,
    private readonly config: ModelConfig,
    readonly maxSeqLen: number,
    initialSlots = 4,
  ) {
    this.slotsCapacity = initialSlots;
    this.keys = this.allocate(initialSlots);
    this.values = this.allocate(initialSlots);
  }

  /** Bytes of one slot in one block's K (or V) buffer. */
  get slotBytes(): number {
    return this.config.numKvHeads * this.maxSeqLen * this.config.headDim * 4;
  }

  /** GPU bytes held by all caches. */
  get gpuBytes(): number {
    return 2 * this.config.numLayers * this.slotsCapacity * this.slotBytes;
  }

  private allocate(slots: number): GPUBuffer[] {
    return Array.from({ length: this.config.numLayers }, (_, l) => this.rt.buffer(slots * this.slotBytes, `kv${l}`));
  }

  /** A free slot, growing every block's buffers when none is left. */
  acquire(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.nextSlot === this.slotsCapacity) this.grow(this.slotsCapacity * 2);
    return this.nextSlot++;
  }

  release(slot: number): void {
    this.freeSlots.push(slot);
  }

  private grow(slots: number): void {
    const oldBytes = this.slotsCapacity * this.slotBytes;
    const keys = this.allocate(slots);
    const values = this.allocate(slots);
    this.rt.run((enc) => {
      for (let l = 0; l < this.config.numLayers; l++) {
        this.rt.copy(enc, this.keys[l], 0, keys[l], 0, oldBytes);
        this.rt.copy(enc, this.values[l], 0, values[l], 0, oldBytes);
      }
    });
    this.destroyBuffers();
    this.keys = keys;
    this.values = values;
    this.slotsCapacity = slots;
  }

  private destroyBuffers(): void {
    for (const b of [...this.keys, ...this.values]) b.destroy();
  }

  destroy(): void {
    this.destroyBuffers();
  }
}
