// Per-sequence KV cache: token-major K and V buffers per active block, grown by doubling.

/**
 * NOTE: token-major [tokens, kvHeads, headDim] so the first `length` tokens are one
 * contiguous prefix: a block run takes them as a zero-copy view, and appending a step's new
 * rows is one `set`. Capacity doubles (up to maxSeqLen) so a short chat does not reserve
 * maxSeqLen tokens per block.
 */
export class SequenceKvCache {
  /** Which blocks this sequence runs, ascending. */
  readonly layerIndices: number[];
  /** Tokens already stored (same for every block of the sequence). */
  length = 0;
  private capacity: number;
  private readonly keys: Map<number, Float32Array> = new Map();
  private readonly values: Map<number, Float32Array> = new Map();

  constructor(
    layerIndices: number[],
    private readonly rowSize: number, // kvHeads * headDim
    private readonly maxSeqLen: number,
    initialCapacity = 64,
  ) {
    this.layerIndices = layerIndices;
    this.capacity = Math.min(initialCapacity, maxSeqLen);
    for (const l of layerIndices) {
      this.keys.set(l, new Float32Array(this.capacity * rowSize));
      this.values.set(l, new Float32Array(this.capacity * rowSize));
    }
  }

  hasLayer(layerIndex: number): boolean {
    return this.keys.has(layerIndex);
  }

  /** Makes room for `numTokens` tokens in total (callers check maxSeqLen first). */
  reserve(numTokens: number): void {
    if (numTokens <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < numTokens) capacity *= 2;
    capacity = Math.min(capacity, this.maxSeqLen);
    for (const map of [this.keys, this.values]) {
      for (const [l, old] of map) {
        const grown = new Float32Array(capacity * this.rowSize);
        grown.set(old.subarray(0, this.length * this.rowSize));
        map.set(l, grown);
      }
    }
    this.capacity = capacity;
  }

  /** The stored keys/values of a block: views of the first `length` tokens. */
  past(layerIndex: number): { keys: Float32Array; values: Float32Array } {
    const n = this.length * this.rowSize;
    return { keys: this.keys.get(layerIndex)!.subarray(0, n), values: this.values.get(layerIndex)!.subarray(0, n) };
  }

  /**
   * Views of the rows right after the stored ones, for `numTokens` new tokens (after
   * `reserve`); the engine writes a step's keys/values there. `length` moves only in
   * `commit`, once every block of the step ran, so a failed step leaves the cache as it was.
   */
  slotsFor(layerIndex: number, numTokens: number): { keys: Float32Array; values: Float32Array } {
    const from = this.length * this.rowSize;
    const to = (this.length + numTokens) * this.rowSize;
    return { keys: this.keys.get(layerIndex)!.subarray(from, to), values: this.values.get(layerIndex)!.subarray(from, to) };
  }

  /** Views of the stored rows followed by room for `numTokens` new ones (after `reserve`). */
  withSlots(layerIndex: number, numTokens: number): { keys: Float32Array; values: Float32Array } {
    const n = (this.length + numTokens) * this.rowSize;
    return { keys: this.keys.get(layerIndex)!.subarray(0, n), values: this.values.get(layerIndex)!.subarray(0, n) };
  }

  commit(numTokens: number): void {
    this.length += numTokens;
  }

  /** Bytes held by this sequence's buffers. */
  bytes(): number {
    return 2 * this.keys.size * this.capacity * this.rowSize * 4;
  }
}
