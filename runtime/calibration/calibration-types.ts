// What calibration stores in an .ewm container's metadata: block ranking and the quality table.

/** Metadata key `layerImportance` (docs/format.md 1.2, docs/adaptive.md). */
export interface LayerImportance {
  /** How `scores` were measured. */
  method: 'block-influence';
  /** Per block (by index): mean over calibration tokens of 1 − cos(block input, block output). */
  scores: number[];
  /** Block indices, most important first. */
  ranking: number[];
  /** Calibration tokens the scores were averaged over. */
  numTokens: number;
}

/** One measured (depth, precision) point. */
export interface QualityPoint {
  depth: number;
  precision: string;
  /** Held-out perplexity (exp of mean next-token NLL). */
  perplexity: number;
}

/** Metadata key `qualityTables`. */
export interface QualityTable {
  /** Held-out tokens scored per point. */
  numTokens: number;
  /** Tokens per scored window (each window starts a fresh sequence). */
  windowTokens: number;
  points: QualityPoint[];
}

/** The blocks a request at depth `depth` runs: the `depth` most important, in original order. */
export function layersAtDepth(ranking: readonly number[], depth: number): number[] {
  if (!Number.isInteger(depth) || depth < 1 || depth > ranking.length) throw new RangeError(`depth ${depth} out of range 1..${ranking.length}`);
  return ranking.slice(0, depth).sort((a, b) => a - b);
}

/** Block indices by decreasing score (ties: lower index first). */
export function rankByScore(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}
