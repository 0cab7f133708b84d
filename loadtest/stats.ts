// Summary statistics of a load-test run, computed the way vLLM's serving benchmark does.

/** One request as the client saw it. Times in ms; startMs relative to the run's start. */
export interface RequestResult {
  ok: boolean;
  error?: string;
  startMs: number;
  /** Send to first content chunk; null when none came. */
  ttftMs: number | null;
  /** Gaps between consecutive content chunks after the first. */
  itlMs: number[];
  e2eMs: number;
  promptTokens: number;
  outputTokens: number;
}

export interface Distribution {
  mean: number;
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  count: number;
}

export interface RunSummary {
  completed: number;
  failed: number;
  durationS: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  ttftMs: Distribution;
  tpotMs: Distribution;
  itlMs: Distribution;
  e2eMs: Distribution;
}

/** Linear-interpolated percentile (numpy's default), `q` in 0..100, of an ascending array. */
export function percentileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function distribution(values: number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  const mean = arr.length === 0 ? NaN : arr.reduce((a, b) => a + b, 0) / arr.length;
  return {
    mean,
    median: percentileSorted(arr, 50),
    p90: percentileSorted(arr, 90),
    p99: percentileSorted(arr, 99),
    min: arr.length === 0 ? NaN : arr[0],
    max: arr.length === 0 ? NaN : arr[arr.length - 1],
    count: arr.length,
  };
}

/** Time per output token after the first: (e2e − ttft) / (tokens − 1), for requests with ≥ 2 tokens. */
export function tpotMs(r: RequestResult): number | null {
  if (!r.ok || r.ttftMs === null || r.outputTokens < 2) return null;
  return (r.e2eMs - r.ttftMs) / (r.outputTokens - 1);
}

/** `durationMs` is the run's wall time (first send to last completion). */
export function summarize(results: RequestResult[], durationMs: number): RunSummary {
  const ok = results.filter((r) => r.ok);
  const durationS = durationMs / 1000;
  const totalInputTokens = ok.reduce((a, r) => a + r.promptTokens, 0);
  const totalOutputTokens = ok.reduce((a, r) => a + r.outputTokens, 0);
  return {
    completed: ok.length,
    failed: results.length - ok.length,
    durationS,
    totalInputTokens,
    totalOutputTokens,
    requestThroughput: durationS > 0 ? ok.length / durationS : 0,
    outputThroughput: durationS > 0 ? totalOutputTokens / durationS : 0,
    totalTokenThroughput: durationS > 0 ? (totalInputTokens + totalOutputTokens) / durationS : 0,
    ttftMs: distribution(ok.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs as number)),
    tpotMs: distribution(ok.map(tpotMs).filter((v): v is number => v !== null)),
    itlMs: distribution(ok.flatMap((r) => r.itlMs)),
    e2eMs: distribution(ok.map((r) => r.e2eMs)),
  };
}

/** Points of the empirical CDF: (value, fraction ≤ value), at most `maxPoints` of them. */
export function cdfPoints(values: number[], maxPoints = 200): [number, number][] {
  const sorted = Array.from(Float64Array.from(values).sort());
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  const points: [number, number][] = [];
  for (let i = 0; i < n; i += step) points.push([sorted[i], (i + 1) / n]);
  if (points[points.length - 1][1] !== 1) points.push([sorted[n - 1], 1]);
  return points;
}
