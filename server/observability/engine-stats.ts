// Reads the engine's scheduler counts and adaptive-serving state into the snapshot /metrics reports.

import type { EngineStatsSnapshot } from './metrics.js';

/** The slice of EngineClient (runtime/worker) read here, typed structurally. */
export interface StatsEngine {
  stats(): { running: number; waiting: number };
  /** Adaptive serving's state; resolves to null when adaptive serving is off. */
  adaptiveState?(): Promise<{
    budgetBytes: number;
    kvReservedBytes: number;
    cache: { usedBytes: number; hits: number; misses: number } | null;
  } | null>;
}

/** A scrape waits at most this long for the worker; past it, the adaptive figures are left out. */
const ADAPTIVE_TIMEOUT_MS = 1000;

/**
 * The metrics' `engineStats` source. With adaptive serving, the budget is the governor's and
 * "used" is what it governs: decoded blocks in the cache plus reserved KV caches.
 */
export function engineStatsSource(engine: StatsEngine): () => Promise<EngineStatsSnapshot> {
  return async () => {
    const { running, waiting } = engine.stats();
    if (engine.adaptiveState === undefined) return { running, waiting };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ADAPTIVE_TIMEOUT_MS)));
    const state = await Promise.race([engine.adaptiveState().catch(() => null), timeout]).finally(() => clearTimeout(timer));
    if (state === null) return { running, waiting };
    const cacheBytes = state.cache?.usedBytes ?? 0;
    return {
      running,
      waiting,
      blockCache: { bytes: cacheBytes, hits: state.cache?.hits ?? 0, misses: state.cache?.misses ?? 0 },
      memory: { budgetBytes: state.budgetBytes, usedBytes: cacheBytes + state.kvReservedBytes },
    };
  };
}
