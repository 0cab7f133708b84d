// Compressed segments within the memory budget: the ones that fit stay in the shared cache, the rest are read from the .ewm on demand.

import type { EwmFile } from '../container/ewm-reader.js';
import type { SegmentSource } from '../container/ewm-weights.js';
import { NUM_PARTS } from '../container/ewm-format.js';
import type { BlockCache } from './block-cache.js';
import type { CachedEntry } from './cached-weights.js';

export function segmentKey(segment: number, numParts: number): string {
  return `seg/${segment}/${numParts}`;
}

export function isSegmentKey(key: string): boolean {
  return key.startsWith('seg/');
}

export interface SegmentStats {
  /** Segment prefixes held in the shared cache now, and their bytes. */
  entries?: number;
  bytes?: number;
  /** Segment prefixes served from memory. */
  hits: number;
  /** Positional reads from the file (each checked by its parts' CRC-32C). */
  reads: number;
  bytesRead: number;
}

/**
 * NOTE: the file is the source of truth. A segment prefix (the parts a rung reads) is held in
 * the same byte-budgeted cache as decoded blocks only when the block it belongs to could not
 * stay decoded (`retain`, called after such a bypass) and it fits in the free space; once the
 * block is cached decoded its segment is dropped (`release`). Everything else is read by one
 * positional read into a reusable scratch buffer, so what the process holds of the store is
 * exactly what the budget admitted, plus one segment of scratch (fixed overhead).
 */
export class SegmentStore {
  readonly stats: SegmentStats = { hits: 0, reads: 0, bytesRead: 0 };
  private readonly scratch: ArrayBuffer;
  private last: { segment: number; numParts: number; bytes: Uint8Array } | null = null;

  constructor(private readonly file: EwmFile, private readonly cache: BlockCache<CachedEntry>) {
    // Only blocks are read after load (embedding and head are decoded once); a larger read gets its own buffer.
    const largest = Math.max(64, ...file.metadata.segments.filter((s) => s.name.startsWith('layer.')).map((s) => s.length));
    this.scratch = new ArrayBuffer(largest);
  }

  /** Bytes of scratch held outside the budget. */
  get scratchBytes(): number {
    return this.scratch.byteLength;
  }

  /** The SegmentSource the weight provider reads through. */
  readonly source: SegmentSource = (segment, numParts) => {
    for (let k = numParts; k <= NUM_PARTS; k++) {
      const held = this.cache.peek(segmentKey(segment, k)) as Uint8Array | undefined;
      if (held !== undefined) {
        this.stats.hits++;
        return held;
      }
    }
    const bytes = this.file.readSegmentPrefix(segment, numParts, this.scratch);
    this.stats.reads++;
    this.stats.bytesRead += bytes.length;
    this.last = { segment, numParts, bytes };
    return bytes;
  };

  /** Keeps the prefix just read for `segment` in the cache if it fits in the free space. */
  retain(segment: number, numParts: number): void {
    const last = this.last;
    if (last === null || last.segment !== segment || last.numParts !== numParts) return;
    if (!this.cache.fits(last.bytes.length)) return;
    this.cache.admit(segmentKey(segment, numParts), last.bytes.slice(), last.bytes.length);
    this.last = null;
  }

  /** Drops the held prefixes of `segment` (its block now stays decoded at that rung). */
  release(segment: number, numParts: number): void {
    this.cache.delete(segmentKey(segment, numParts));
  }
}
