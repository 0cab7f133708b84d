// Memory governor: picks each request's (depth, precision) from the budget, queue, quality table and wishes.

import { EdgewiseError, InvalidRequestError } from '../errors.js';
import { layersAtDepth, type QualityTable } from '../calibration/calibration-types.js';
import { LOSSLESS } from '../container/precision.js';

export type Quality = 'exact' | 'high' | 'balanced' | 'fast';
export const QUALITIES: readonly Quality[] = ['exact', 'high', 'balanced', 'fast'];

/** The request's `edgewise` extension field, validated at the HTTP edge. */
export interface AdaptiveWish {
  quality?: Quality;
  /** Run at least this many blocks. */
  minDepth?: number;
  /** A precision rung by name (runtime/container/precision.ts); the governor checks it is served. */
  precision?: string;
}

/** What the governor chose for one request (returned to the client as `edgewise`). */
export interface AdaptiveChoice {
  depth: number;
  numLayers: number;
  precision: string;
  /** One sentence: which input decided the depth and precision. */
  why: string;
}

/**
 * Largest perplexity, relative to full depth lossless, that each quality accepts (when the
 * container has a quality table); without a table, the fraction of blocks kept (lossless only).
 */
const PPL_RATIO: Record<Quality, number> = { exact: 1, high: 1.05, balanced: 1.25, fast: 2 };
const DEPTH_FRACTION: Record<Quality, number> = { exact: 1, high: 1, balanced: 0.75, fast: 0.5 };

/*
 * NOTE: per-step costs in units of one sequence running one cached lossless block, measured
 * with bench/adaptive-bench.ts on the default model (2-core x86-64, 2026-11-28): decoding a
 * block just in time from the file cost ~6-7.5× a cached block's run (0.87-1.05 vs 0.14 ms),
 * widening a compactly cached lower-rung block ~1.5× (0.215 ms). Both are paid once per step
 * whatever the batch, the block runs once per sequence. Only used to let a better-quality pair
 * with a few blocks left uncached win over a lower one that caches everything when it is
 * estimated no slower (at 90% budget lossless with one block decoded per step ran 501 tok/s,
 * e8m3 all cached 420).
 */
const JIT_BLOCK_COST = 6;
const WIDEN_BLOCK_COST = 1.5;

/** One rung the engine serves and what one of its blocks occupies in the decoded-block cache. */
export interface ServedPrecision {
  name: string;
  blockBytes: number;
}

export interface GovernorOptions {
  numLayers: number;
  /** Block indices, most important first; null = container not calibrated (full depth only). */
  ranking: number[] | null;
  qualityTable: QualityTable | null;
  /** fp32 bytes of one decoded lossless block (what the cache holds per block). */
  blockBytes: number;
  /** Rungs served, highest first, with their cached block bytes; default: lossless only. */
  precisions?: ServedPrecision[];
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

/** A (depth, precision) the wish allows, with its rank by expected quality (0 = best). */
interface Candidate {
  depth: number;
  precision: ServedPrecision;
  rank: number;
  perplexity: number | null;
}

/**
 * NOTE: policy. The wish sets the allowed (depth, precision) pairs: `exact` = every block,
 * lossless; a quality = the pairs whose measured perplexity is within its ratio of full depth
 * lossless (walking down in depth per precision while every depth on the way qualifies, as the
 * table may be non-monotone); `min_depth` raises the depth; `precision` fixes the rung. Lower
 * rungs are offered only with a quality table (their cost in perplexity is then known) or when
 * asked for by name. Among the allowed pairs whose KV cache fits in the free budget, the
 * governor takes the best-quality pair whose blocks all stay decoded in the cache beside it (so
 * no block is decoded every step), unless a better pair that leaves some blocks to decode each
 * step is estimated no slower (JIT_BLOCK_COST, WIDEN_BLOCK_COST); when none fits whole, the pair with the fewest blocks left to
 * decode just in time. A long queue (waiting ≥ maxBatch) takes the cheapest allowed pair. When
 * even the shallowest allowed KV cache does not fit, the request is refused with kind
 * 'budget', never run into an out-of-memory failure.
 */
export class Governor {
  private budget: number;
  private reservedKv = 0;
  private readonly reservations = new Map<string, number>();
  private readonly precisions: ServedPrecision[];

  constructor(private readonly opts: GovernorOptions, budgetBytes: number) {
    this.budget = budgetBytes;
    this.precisions = opts.precisions ?? [{ name: LOSSLESS, blockBytes: opts.blockBytes }];
  }

  get budgetBytes(): number {
    return this.budget;
  }

  get kvReservedBytes(): number {
    return this.reservedKv;
  }

  /** What the decoded-block cache (and held compressed segments) may use now: the budget less the KV caches reserved. */
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
    if (wish?.precision !== undefined && !this.precisions.some((p) => p.name === wish.precision)) {
      throw new InvalidRequestError(`precision "${wish.precision}" is not available; this model serves: ${this.precisions.map((p) => p.name).join(', ')}`, 'edgewise.precision');
    }
    if (wish?.minDepth !== undefined && (!Number.isInteger(wish.minDepth) || wish.minDepth < 1 || wish.minDepth > L)) {
      throw new InvalidRequestError(`edgewise.min_depth must be an integer in 1..${L}, got ${wish.minDepth}`, 'edgewise.min_depth');
    }
    const quality = wish?.quality ?? this.opts.defaultQuality;
    const wished = wish?.quality !== undefined || wish?.minDepth !== undefined || wish?.precision !== undefined;
    const { candidates, what } = this.allowed(quality, wish);
    const free = this.budget - this.reservedKv;
    const minDepth = Math.min(...candidates.map((c) => c.depth));
    const kvFloor = this.kvBytes(minDepth, tokens);
    if (kvFloor > free) {
      throw new EdgewiseError(
        'budget',
        `memory budget cannot serve this request: ${what} needs depth ≥ ${minDepth}, whose KV cache (${kvFloor} bytes for ${tokens} tokens) exceeds the ${Math.max(0, free)} bytes free of the ${this.budget}-byte budget${wished ? '; lower the quality, min_depth or precision, or shorten max_tokens' : ''}`,
        { param: 'edgewise' },
      );
    }
    const fitting = candidates.filter((c) => this.kvBytes(c.depth, tokens) <= free);
    const cachedBlocks = (c: Candidate): number => Math.floor(Math.max(0, free - this.kvBytes(c.depth, tokens)) / c.precision.blockBytes);
    const best = fitting[0];
    let pick: Candidate;
    let why: string;
    if (fitting.length > 1 && queue.waiting >= queue.maxBatch) {
      pick = fitting.reduce((a, c) => (c.depth * c.precision.blockBytes < a.depth * a.precision.blockBytes ? c : a));
      why = `queue long (${queue.waiting} waiting): cheapest pair allowed by ${what}`;
    } else {
      const whole = fitting.find((c) => cachedBlocks(c) >= c.depth);
      // A better pair that leaves a few blocks to decode each step can still cost less per step.
      const batch = queue.running + 1;
      const stepCost = (c: Candidate): number => {
        const cached = Math.min(c.depth, cachedBlocks(c));
        const widened = c.precision.name === this.precisions[0].name ? 0 : cached;
        return c.depth * batch + (c.depth - cached) * JIT_BLOCK_COST + widened * WIDEN_BLOCK_COST;
      };
      const faster = whole === undefined ? undefined : fitting.slice(0, fitting.indexOf(whole)).find((c) => stepCost(c) <= stepCost(whole));
      if (faster !== undefined) {
        pick = faster;
        why = `memory: ${Math.max(0, free)} bytes free hold ${cachedBlocks(faster)} of ${faster.depth} blocks decoded at ${faster.precision.name}; decoding the rest each step is estimated no slower than all ${whole!.depth} cached at ${whole!.precision.name}; best such pair allowed by ${what}`;
      } else if (whole !== undefined) {
        pick = whole;
        why = whole === candidates[0] ? `best allowed by ${what}: budget holds its KV cache and every block decoded` : `memory: ${Math.max(0, free)} bytes free hold all ${whole.depth} blocks decoded at ${whole.precision.name} beside this request's KV cache; best such pair allowed by ${what}`;
      } else {
        pick = fitting.reduce((a, c) => (c.depth - cachedBlocks(c) < a.depth - cachedBlocks(a) ? c : a), best);
        why = `memory: ${Math.max(0, free)} bytes free hold ${cachedBlocks(pick)} of ${pick.depth} blocks decoded at ${pick.precision.name}; the rest decode just in time (fewest such among pairs allowed by ${what})`;
      }
    }
    const layerIndices = pick.depth === L || this.opts.ranking === null ? undefined : layersAtDepth(this.opts.ranking, pick.depth);
    return { choice: { depth: pick.depth, numLayers: L, precision: pick.precision.name, why }, layerIndices, kvBytes: this.kvBytes(pick.depth, tokens) };
  }

  /** The (depth, precision) pairs the wish allows, best expected quality first, and a phrase naming what limited them. */
  private allowed(quality: Quality, wish: AdaptiveWish | undefined): { candidates: Candidate[]; what: string } {
    const L = this.opts.numLayers;
    const minDepth = wish?.minDepth ?? 1;
    const table = this.opts.qualityTable?.points ?? [];
    const ppl = (d: number, p: string): number | undefined => table.find((q) => q.depth === d && q.precision === p)?.perplexity;
    const reference = ppl(L, LOSSLESS);
    const rungs = wish?.precision !== undefined ? this.precisions.filter((p) => p.name === wish.precision) : this.precisions;
    const parts = [`quality ${quality}`];
    if (wish?.minDepth !== undefined) parts.push(`min_depth ${wish.minDepth}`);
    if (wish?.precision !== undefined) parts.push(`precision ${wish.precision}`);
    const out: Candidate[] = [];
    for (const [level, p] of rungs.entries()) {
      // Without a measured cost, a lower rung runs only when asked for by name.
      const measured = reference !== undefined && ppl(L, p.name) !== undefined;
      if (p.name !== LOSSLESS && wish?.precision === undefined && (!measured || quality === 'exact')) continue;
      if (quality === 'exact' || this.opts.ranking === null) {
        out.push({ depth: L, precision: p, rank: level, perplexity: ppl(L, p.name) ?? null });
        continue;
      }
      // The ratio is taken against full-depth lossless, or against full depth of the named rung.
      const base = wish?.precision !== undefined ? ppl(L, p.name) : reference;
      const depthFloor = base === undefined ? Math.max(1, Math.ceil(L * DEPTH_FRACTION[quality])) : 0;
      for (let d = L; d >= Math.max(1, minDepth); d--) {
        const v = ppl(d, p.name);
        if (base !== undefined && (v === undefined || v > base * PPL_RATIO[quality])) break;
        if (base === undefined && d < depthFloor) break;
        out.push({ depth: d, precision: p, rank: (L - d) * rungs.length + level, perplexity: v ?? null });
      }
    }
    if (out.length === 0) {
      // Full depth at the wished (or lossless) rung is always allowed: it is the reference itself.
      const p = rungs[0] ?? this.precisions[0];
      out.push({ depth: L, precision: p, rank: 0, perplexity: ppl(L, p.name) ?? null });
    }
    // NOTE: a shallower or lower-precision pair is never truly better than the pairs above it:
    // a measured gain is calibration noise (2048 tokens once put e8m3 0.01% below lossless, and
    // the governor then served e8m3 with lossless fitting). So each pair ranks by the worst
    // perplexity among itself and every deeper or higher-precision pair, ties to the higher rank.
    const levelOf = new Map(rungs.map((p, i) => [p.name, i]));
    const envelope = (c: Candidate): number | null => {
      let worst: number | null = null;
      for (let d = c.depth; d <= L; d++) {
        for (let level = 0; level <= levelOf.get(c.precision.name)!; level++) {
          const v = ppl(d, rungs[level].name);
          if (v !== undefined) worst = Math.max(worst ?? v, v);
        }
      }
      return worst;
    };
    const keyed = out.map((c) => ({ c, key: envelope(c) }));
    keyed.sort((a, b) => (a.key !== null && b.key !== null && a.key !== b.key ? a.key - b.key : a.c.rank - b.c.rank));
    out.splice(0, out.length, ...keyed.map((k) => k.c));
    const what = this.opts.ranking === null ? 'container not calibrated (full depth only)' : parts.join(', ');
    return { candidates: out, what };
  }
}
