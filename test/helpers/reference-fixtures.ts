// Reads the PyTorch reference fixtures (test/fixtures/*/reference.json + logits) and compares logits against them.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root: this file compiles to dist/test/helpers/, three levels below it. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES_DIR = join(REPO_ROOT, 'test', 'fixtures');
export const DEFAULT_FIXTURE = 'default-reference';

/** One reference run, as models/reference/make_fixtures.py wrote it. */
export interface ReferenceFixture {
  name: string;
  /** The HF folder to load: the fixture folder itself, or models/default for the default model. */
  modelDir: string;
  description: string;
  promptIds: number[];
  /** Greedy continuation (argmax at each step, EOS not special). */
  greedyIds: number[];
  vocabSize: number;
  /** [promptIds.length * vocab]: logits at every prompt position. */
  promptLogits: Float32Array;
  /** [greedyIds.length * vocab]: row j is the logits that chose greedyIds[j]. */
  decodeLogits: Float32Array;
  /** Depth switching: prompt logits [promptIds.length * vocab] with only these blocks run, in order. */
  depth: { layerIndices: number[]; promptLogits: Float32Array } | null;
  /** Allowed max|Δ| / max|ref| per position. */
  tolerance: number;
  /** sha256 of the model's model.safetensors / config.json when the weights live elsewhere. */
  modelSha256: string | null;
  configSha256: string | null;
}

function readFloat32(path: string, expectedLength: number): Float32Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== expectedLength * 4) {
    throw new Error(`${path}: ${bytes.byteLength} bytes, expected ${expectedLength * 4}`);
  }
  // Copy into an aligned buffer; node's Buffer pool may hand out an unaligned slice.
  const out = new Float32Array(expectedLength);
  new Uint8Array(out.buffer).set(bytes);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported');
  return out;
}

/** Names of the fixture folders holding a reference.json (the default model's included when present). */
export function listFixtureNames(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(FIXTURES_DIR, entry.name, 'reference.json')))
    .map((entry) => entry.name)
    .sort();
}

export function readFixture(name: string): ReferenceFixture {
  const dir = join(FIXTURES_DIR, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Record<string, any>;
  const [numPositions, vocabSize] = ref.logits_shape as [number, number];
  const promptIds = ref.prompt_ids as number[];
  const greedyIds = ref.greedy_ids as number[];
  if (numPositions !== promptIds.length) throw new Error(`${name}: logits_shape does not match prompt_ids`);
  return {
    name,
    modelDir: typeof ref.model_dir === 'string' ? join(REPO_ROOT, ref.model_dir) : dir,
    description: String(ref.description ?? ''),
    promptIds,
    greedyIds,
    vocabSize,
    promptLogits: readFloat32(join(dir, ref.logits_file), numPositions * vocabSize),
    decodeLogits: readFloat32(join(dir, ref.decode_logits_file), greedyIds.length * vocabSize),
    depth: ref.depth
      ? {
          layerIndices: ref.depth.layer_indices as number[],
          promptLogits: readFloat32(join(dir, ref.depth.logits_file), numPositions * vocabSize),
        }
      : null,
    tolerance: Number(ref.tolerance),
    modelSha256: ref.model_sha256 ?? null,
    configSha256: ref.config_sha256 ?? null,
  };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const REGENERATE_DEFAULT = '/usr/bin/python3 models/reference/make_fixtures.py --default';

/**
 * Why a fixture cannot be used against its model right now, or null. Fixtures of random
 * checkpoints carry their weights and are always usable; the default model's fixture holds
 * only the reference outputs, so it is unusable when models/default is absent (skip) or has
 * changed since the fixture was made (`stale`: the parity suite fails once, with the command).
 */
export function fixtureUnusable(fixture: ReferenceFixture): { kind: 'absent' | 'stale'; reason: string } | null {
  if (fixture.modelSha256 === null) return null;
  const weightsFile = join(fixture.modelDir, 'model.safetensors');
  if (!existsSync(weightsFile)) return { kind: 'absent', reason: `${fixture.modelDir} is not there` };
  const weightsOk = sha256File(weightsFile) === fixture.modelSha256;
  const configOk = sha256File(join(fixture.modelDir, 'config.json')) === fixture.configSha256;
  if (weightsOk && configOk) return null;
  return { kind: 'stale', reason: `${fixture.modelDir} changed since ${fixture.name} was made; run ${REGENERATE_DEFAULT}` };
}

/** Index of the largest value in row `row` of a [rows, width] matrix; the lowest index wins ties. */
export function argmaxRow(values: Float32Array, row: number, width: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < width; i++) {
    const v = values[row * width + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export interface RowComparison {
  /** max|Δ| / max|ref| of the worst row. */
  worstRelative: number;
  worstRow: number;
  /** A readable account of the worst row, for assertion messages. */
  detail: string;
}

/**
 * Compares `actual` rows [numRows, width] with reference rows `refRowStart..` of `reference`.
 * Relative error per row is max|Δ| / max|ref| over that row; a non-finite actual value counts as Infinity.
 */
export function compareRows(
  actual: Float32Array,
  reference: Float32Array,
  refRowStart: number,
  numRows: number,
  width: number,
): RowComparison {
  if (actual.length !== numRows * width) {
    return { worstRelative: Infinity, worstRow: -1, detail: `got ${actual.length} values, expected ${numRows}x${width}` };
  }
  let worstRelative = -1;
  let worstRow = 0;
  let worstDetail = '';
  for (let r = 0; r < numRows; r++) {
    let maxDiff = 0;
    let maxRef = 0;
    let at = 0;
    for (let i = 0; i < width; i++) {
      const a = actual[r * width + i];
      const e = reference[(refRowStart + r) * width + i];
      const d = Number.isFinite(a) ? Math.abs(a - e) : Infinity;
      if (d > maxDiff) {
        maxDiff = d;
        at = i;
      }
      maxRef = Math.max(maxRef, Math.abs(e));
    }
    const relative = maxDiff / maxRef;
    if (relative > worstRelative) {
      worstRelative = relative;
      worstRow = r;
      const a = actual[r * width + at];
      const e = reference[(refRowStart + r) * width + at];
      worstDetail = `row ${refRowStart + r}: max|Δ| ${maxDiff.toExponential(3)} at token ${at} (got ${a}, ref ${e}), max|ref| ${maxRef.toFixed(4)}`;
    }
  }
  return { worstRelative, worstRow, detail: worstDetail };
}
