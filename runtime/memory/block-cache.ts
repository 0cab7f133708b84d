// Decoded transformer blocks kept within a byte capacity (lru-cache maxSize), keyed by layer and precision.

import { LRUCache } from 'lru-cache';

export interface CacheStats {
  hits: number;
  misses: number;
  /** Blocks dropped to make room or because the capacity shrank. */
  evictions: number;
  /** Decoded blocks that did not fit and were decoded just in time instead. */
  bypasses: number;
  entries: number;
  usedBytes: number;
  capacityBytes: number;
}

interface Entry<V> {
  value: V;
  bytes: number;
}

export function blockKey(layer: number, precision: string): string {
  return `${layer}/${precision}`;
}

/**
 * NOTE: admission policy. Every decode step reads blocks 0..L-1 in the same order, a cyclic
 * scan under which plain LRU replacement misses on every access once capacity < L blocks.
 * So a block is admitted only while it fits in the free space, and never evicts another to
 * get in: the blocks that fit stay decoded, the rest are decoded just in time each step.
 * Eviction happens only when the capacity shrinks (least recently used first), in the same
 * call that shrinks it.
 */
export class BlockCache<V> {
  private cache: LRUCache<string, Entry<V>> | null;
  private capacity: number;
  private readonly counters = { hits: 0, misses: 0, evictions: 0, bypasses: 0 };

  constructor(capacityBytes: number) {
    this.capacity = Math.max(0, Math.floor(capacityBytes));
    this.cache = this.make(this.capacity);
  }

  get capacityBytes(): number {
    return this.capacity;
  }

  get usedBytes(): number {
    return this.cache?.calculatedSize ?? 0;
  }

  /** The cached value (counted as a hit and made most recent), or undefined (a miss). */
  get(key: string): V | undefined {
    const e = this.cache?.get(key);
    if (e === undefined) this.counters.misses++;
    else this.counters.hits++;
    return e?.value;
  }

  /** The cached value without counting a hit or miss (segment lookups keep their own counts). */
  peek(key: string): V | undefined {
    return this.cache?.get(key)?.value;
  }

  /** Counts a block that was decoded just in time because it did not fit. */
  noteBypass(): void {
    this.counters.bypasses++;
  }

  /** Drops one entry (not counted as an eviction: its owner no longer needs it). */
  delete(key: string): void {
    this.cache?.delete(key);
  }

  has(key: string): boolean {
    return this.cache?.has(key) ?? false;
  }

  /** Whether a block of `bytes` would be admitted now. */
  fits(bytes: number): boolean {
    return this.cache !== null && bytes > 0 && this.usedBytes + bytes <= this.capacity;
  }

  /** Stores `value` if it fits in the free space; returns whether it was stored. */
  admit(key: string, value: V, bytes: number): boolean {
    if (!this.fits(bytes) || this.cache!.has(key)) {
      if (!this.cache?.has(key)) this.counters.bypasses++;
      return false;
    }
    this.cache!.set(key, { value, bytes });
    return true;
  }

  /** New capacity; on shrink the least recently used blocks are evicted before this returns. */
  resize(capacityBytes: number): void {
    const next = Math.max(0, Math.floor(capacityBytes));
    if (next === this.capacity) return;
    const old = this.cache;
    this.capacity = next;
    this.cache = this.make(next);
    if (old === null) return;
    // Oldest first, so the most recent survive and keep their order.
    const entries = [...old.rentries()] as [string, Entry<V>][];
    let keep = 0;
    let used = 0;
    for (let i = entries.length - 1; i >= 0; i--) {
      if (used + entries[i][1].bytes > next) break;
      used += entries[i][1].bytes;
      keep++;
    }
    this.counters.evictions += entries.length - keep;
    if (this.cache !== null) for (const [k, v] of entries.slice(entries.length - keep)) this.cache.set(k, v);
  }

  /** Drops every block whose key satisfies `predicate` (counted as evictions). */
  evictWhere(predicate: (key: string) => boolean): void {
    if (this.cache === null) return;
    for (const k of [...this.cache.keys()]) {
      if (predicate(k)) {
        this.cache.delete(k);
        this.counters.evictions++;
      }
    }
  }

  /** Entries and bytes of the keys that satisfy `predicate`. */
  countWhere(predicate: (key: string) => boolean): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    if (this.cache !== null) {
      for (const [k, e] of this.cache.entries()) {
        if (!predicate(k)) continue;
        entries++;
        bytes += e.bytes;
      }
    }
    return { entries, bytes };
  }

  stats(): CacheStats {
    return { ...this.counters, entries: this.cache?.size ?? 0, usedBytes: this.usedBytes, capacityBytes: this.capacity };
  }

  private make(capacity: number): LRUCache<string, Entry<V>> | null {
    // lru-cache needs a positive maxSize; capacity 0 means "cache nothing".
    return capacity > 0 ? new LRUCache<string, Entry<V>>({ maxSize: capacity, sizeCalculation: (e) => e.bytes }) : null;
  }
}
