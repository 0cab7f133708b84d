// Wires a container provider to one byte-budgeted cache: decoded blocks (at any rung) and compressed segments share it.

import type { EwmWeightProvider } from '../container/ewm-weights.js';
import { PRECISIONS } from '../container/precision.js';
import type { BlockCache } from './block-cache.js';
import { CachedWeightProvider, type CachedEntry } from './cached-weights.js';
import type { ServedPrecision } from './governor.js';
import { SegmentStore } from './segment-store.js';

/**
 * Hands `ewm`'s segments to a SegmentStore on `cache` (the resident copies are dropped: what
 * stays in memory is what the budget admits) and wraps it in a CachedWeightProvider.
 */
export function budgetedWeights(ewm: EwmWeightProvider, cache: BlockCache<CachedEntry>): { weights: CachedWeightProvider; segments: SegmentStore } {
  const segments = new SegmentStore(ewm.ewm, cache);
  ewm.useSegmentSource(segments.source);
  return { weights: new CachedWeightProvider(ewm, cache, segments), segments };
}

/** Every rung with the cache bytes of its largest block (what the governor plans with). */
export function servedPrecisions(ewm: EwmWeightProvider): ServedPrecision[] {
  const layers = Array.from({ length: ewm.config.numLayers }, (_, i) => i);
  return PRECISIONS.map((p) => ({ name: p.name, blockBytes: Math.max(...layers.map((i) => ewm.compactBytes(i, p))) }));
}
