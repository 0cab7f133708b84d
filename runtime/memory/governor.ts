// Memory governor: picks each request's (depth, precision) from the budget, queue, quality table and wishes.

import { EdgewiseError, InvalidRequestError } from '../errors.js';
import { layersAtDepth, type QualityTable } from '../calibration/calibration-types.js';

export type Quality = 'exact' | 'high' | 'balanced' | 'fast';
export const QUALITIES: readonly Quality[] = ['exact', 'high', 'balanced', 'fast'];

/** The request's `edgewise` extension field, validated at the HTTP edge. */
export interface AdaptiveWish {
  quality?: Quality;
  /** Run at least this many blocks. */
  minDepth?: number;
  /** A precision rung by name; this build serves only 'bf16' (lossless). */
  precision?: string;
}

/** What the governor chose for one request (returned to the client as `edgewise`). */
export interface AdaptiveChoice {
  depth: number;
  numLayers: number;
  precision: string;
  /** One sentence: which input decided the depth. */
  why: string;
}

/**
 * Largest perplexity, relative to full depth, that each quality accepts (when the container has
 * a quality table); without a table, the fraction of blocks kept.
 */
const PPL_RATIO: Record<Quality, number> = { exact: 1, high: 1.05, balanced: 1.25, fast: 2 };
const DEPTH_FRACTION: Record<Quality, number> = { exact: 1, high: 1, balanced: 0.75, fast: 0.5 };

export interface GovernorOptions {
  numLayers: number;
  /** Block indices, most important first; null = container not calibrated (full depth only). */
  ranking: number[] | null;
  qualityTable: QualityTable | null;
  /** fp32 bytes of one decoded block (what the cache holds per block). */
  blockBytes: number;
  /** KV bytes per token per block (2 × kvHeads × headDim × 4). */
  kvBytesPerTokenLayer: number;
  /** Longest sequence a KV cache may grow to (its capacity doubles from 64 up to this). */
  maxSeqLen: number;
  /** Quality for requests without a wish. */
  defaultQuality: Quality;
}

export interface QueueState {
  running: number;
  waiting: number;
  maxBatch: number;
}

export interface Decision {
  choice: AdaptiveChoice;
  layerIndices: number[] | undefined;
  /** KV bytes reserved for the request's whole life. */
  kvBytes: number;
}

/**
 * NOTE: policy. The wish sets a floor (exact = every block; min_depth; a quality = the
 * shallowest depth whose measured perplexity is within its ratio of full depth). Between the
 * floor and full depth the governor takes the deepest depth that (1) the free budget can hold
 * the request's KV cache for and (2) whose blocks all fit in the decoded-block cache, so that
 * no block is decoded every step; a long queue (waiting ≥ maxBatch) takes the floor. When even
 * the floor's KV cache does not fit, the request is refused with kind 'budget', never run
 * into an out-of-memory failure.
 */
export class Governor {
  private budget: number;
  private reservedKv = 0;
  private readonly reservations = new Map<string, number>();

  constructor(private readonly opts: GovernorOptions, budgetBytes: number) {
    this.budget = budgetBytes;
  }

  get budgetBytes(): number {
    return this.budget;
  }

  get kvReservedBytes(): number {
    return this.reservedKv;
  }

  /** What the decoded-block cache may hold now: the budget less the KV caches reserved. */
  cacheCapacity(): number {
    return Math.max(0, this.budget - this.reservedKv);
  }

  setBudget(bytes: number): void {
    this.budget = bytes;
  }

  /** KV bytes of a sequence of `tokens` tokens at `depth` blocks, at its cache's doubled capacity. */
  kvBytes(depth: number, tokens: number): number {
    let capacity = Math.min(64, this.opts.maxSeqLen);
    while (capacity < tokens && capacity < this.opts.maxSeqLen) capacity *= 2;
    return depth * Math.min(capacity, this.opts.maxSeqLen) * this.opts.kvBytesPerTokenLayer;
  }

  /** Decides, reserves the KV bytes under `reqId`, or throws ('budget' / 'invalid_request'). */
  admit(reqId: string, wish: AdaptiveWish | undefined, tokens: number, queue: QueueState): Decision {
    const d = this.decide(wish, tokens, queue);
    this.reservations.set(reqId, d.kvBytes);
    this.reservedKv += d.kvBytes;
    return d;
  }

  /** The request ended: its KV bytes return to the cache. Unknown ids are ignored. */
  release(reqId: string): void {
    const bytes = this.reservations.get(reqId);
    if (bytes === undefined) return;
    this.reservations.delete(reqId);
    this.reservedKv -= bytes;
  }

  decide(wish: AdaptiveWish | undefined, tokens: number, queue: QueueState): Decision {
    const L = this.opts.numLayers;
    if (wish?.precision !== undefined && wish.precision !== 'bf16') {
      throw new InvalidRequestError(`precision "${wish.precision}" is not available; this model serves: bf16`, 'edgewise.precision');
    }
    if (wish?.minDepth !== undefined && (!Number.isInteger(wish.minDepth) || wish.minDepth < 1 || wish.minDepth > L)) {
      throw new InvalidRequestError(`edgewise.min_depth must be an integer in 1..${L}, got ${wish.minDepth}`, 'edgewise.min_depth');
    }
    const quality = wish?.quality ?? this.opts.defaultQuality;
    const wished = wish?.quality !== undefined || wish?.minDepth !== undefined;
    let floor = this.opts.ranking === null ? L : this.qualityFloor(quality);
    let floorWhy = this.opts.ranking === null ? 'container not calibrated (full depth only)' : `quality ${quality}`;
    if (wish?.minDepth !== undefined && wish.minDepth > floor) {
      floor = wish.minDepth;
      floorWhy = `min_depth ${wish.minDepth}`;
    }
    const free = this.budget - this.reservedKv;
    const kvFloor = this.kvBytes(floor, tokens);
    if (kvFloor > free) {
      throw new EdgewiseError(
        'budget',
        `memory budget cannot serve this request: ${floorWhy} needs depth ≥ ${floor}, whose KV cache (${kvFloor} bytes for ${tokens} tokens) exceeds the ${Math.max(0, free)} bytes free of the ${this.budget}-byte budget${wished ? '; lower the quality or min_depth, or shorten max_tokens' : ''}`,
        { param: 'edgewise' },
      );
    }
    let depth = L;
    let why = 'full depth: budget and cache hold every block';
    if (floor < L && queue.waiting >= queue.maxBatch) {
      depth = floor;
      why = `queue long (${queue.waiting} waiting): shallowest depth allowed by ${floorWhy}`;
    } else if (floor < L) {
      // Deepest d ≥ floor whose KV fits and whose blocks all stay decoded in the cache.
      const cacheBlocks = (d: number): number => Math.floor(Math.max(0, free - this.kvBytes(d, tokens)) / this.opts.blockBytes);
      while (depth > floor && (this.kvBytes(depth, tokens) > free || cacheBlocks(depth) < depth)) depth--;
      if (depth < L) why = `memory: ${Math.max(0, free)} bytes free hold ${cacheBlocks(depth)} decoded blocks besides this request's KV cache; deepest depth ≥ ${floor} (${floorWhy})`;
    } else if (floor === L) {
      why = `full depth: ${floorWhy}`;
    }
    const layerIndices = depth === L || this.opts.ranking === null ? undefined : layersAtDepth(this.opts.ranking, depth);
    return { choice: { depth, numLayers: L, precision: 'bf16', why }, layerIndices, kvBytes: this.kvBytes(depth, tokens) };
  }

  /** Shallowest depth whose perplexity is within the quality's ratio of full depth. */
  private qualityFloor(quality: Quality): number {
    const L = this.opts.numLayers;
    if (quality === 'exact') return L;
    const points = this.opts.qualityTable?.points.filter((p) => p.precision === 'bf16') ?? [];
    const full = points.find((p) => p.depth === L);
    if (full === undefined) return Math.max(1, Math.ceil(L * DEPTH_FRACTION[quality]));
    let floor = L;
    // Walk down while every depth on the way stays within the ratio (the table may be non-monotone).
    for (let d = L - 1; d >= 1; d--) {
      const p = points.find((q) => q.depth === d);
      if (p === undefined || p.perplexity > full.perplexity * PPL_RATIO[quality]) break;
      floor = d;
    }
    return floor;
  }
}
