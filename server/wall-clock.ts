// Wall-clock milliseconds with sub-millisecond resolution, for request timings.

import { performance } from 'node:perf_hooks';

/**
 * `Date.now()` in value, but fractional: inter-token gaps on small models are 1-8 ms, which whole milliseconds
 * would round to zero or double. Anchored at `performance.timeOrigin`, so it stays comparable with the
 * `Date.now()`-based deadlines the engine thread checks.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
