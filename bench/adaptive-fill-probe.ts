// Why the quality table's depth-1 column is not monotone in precision: perplexity of each rung under other fills of the
// dropped mantissa bits, and under logit temperatures, at chosen depths (docs/adaptive.md, "Depth 1").
//
//   node dist/bench/adaptive-fill-probe.js [--tokens 8192] [--depths 1,2,6] [--temperatures 1,1.2,1.5,2]
//
// Rungs are applied by mask-and-fill of the folder's BF16 weights (the rung decoders are tested bit-identical to
// that), so the midpoint rows reproduce `edgewise calibrate`'s table. Norms, biases, embedding and LM head stay
// lossless, as in the container.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRunner } from '../runtime/engine/create-runner.js';
import type { LayerWeights, ModelRunner, WeightProvider } from '../runtime/engine/runner-types.js';
import { calibrationWindows } from '../runtime/calibration/calibration-text.js';
import { layersAtDepth } from '../runtime/calibration/calibration-types.js';
import { loadModel } from '../runtime/model/load-model.js';
import { fillBits, isSpecialExponent } from '../kernels/codec/planes-reference.js';

const root = new URL('../../', import.meta.url).pathname;
const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
if (argv.includes('--help')) {
  console.log('adaptive-fill-probe: perplexity per rung under midpoint / zero / per-tensor-mean fills and logit temperatures\n  --tokens N           calibration tokens (default 8192)\n  --depths LIST        depths (default 1,2,6)\n  --temperatures LIST  logit temperatures (default 1,1.2,1.5,2)');
  process.exit(0);
}
const maxTokens = Number(arg('--tokens', '8192'));
const depths = arg('--depths', '1,2,6').split(',').map(Number);
const temperatures = arg('--temperatures', '1,1.2,1.5,2').split(',').map(Number);

/** A fill rule: given a tensor's BF16 patterns and the planes kept, returns the pattern each weight becomes. */
type Fill = (patterns: Uint16Array, keep: number) => (pattern: number) => number;
const droppedMask = (keep: number) => (keep === 1 ? 0x3f : 0x0f);
const isSpecial = (p: number) => isSpecialExponent((p >>> 7) & 0xff, 'BF16');
const FILLS: Record<string, Fill> = {
  // What the container ships (docs/format.md 2.6).
  midpoint: (_, keep) => (p) => (isSpecial(p) ? p & ~droppedMask(keep) : (p & ~droppedMask(keep)) | fillBits(keep)),
  zero: (_, keep) => (p) => p & ~droppedMask(keep),
  // The least-squares fill for one tensor: the mean of its dropped bits.
  'tensor-mean': (patterns, keep) => {
    const mask = droppedMask(keep);
    let sum = 0;
    let count = 0;
    for (const p of patterns) if (!isSpecial(p)) { sum += p & mask; count++; }
    const fill = Math.round(sum / Math.max(1, count));
    return (p) => (isSpecial(p) ? p & ~mask : (p & ~mask) | fill);
  },
};

const MATRICES = ['qProj', 'kProj', 'vProj', 'oProj', 'gateProj', 'upProj', 'downProj'] as const;

function applyFill(values: Float32Array, keep: number, fill: Fill): Float32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const patterns = Uint16Array.from(bits, (b) => b >>> 16);
  const rule = fill(patterns, keep);
  const out = new Float32Array(values.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < patterns.length; i++) outBits[i] = rule(patterns[i]) << 16;
  return out;
}

/** The folder's weights with every block matrix at a rung keeping `keep` planes under `fill`. */
function atRung(base: WeightProvider, keep: number, fill: Fill): WeightProvider {
  const blocks = new Map<number, LayerWeights>();
  return {
    config: base.config,
    embedding: () => base.embedding(),
    finalNorm: () => base.finalNorm(),
    lmHead: () => base.lmHead(),
    close: () => {},
    async layer(i) {
      let block = blocks.get(i);
      if (block === undefined) {
        const lossless = await base.layer(i);
        block = { ...lossless };
        for (const m of MATRICES) block[m] = applyFill(lossless[m], keep, fill);
        blocks.set(i, block);
      }
      return block;
    },
  };
}

/** Perplexity of `windows` at each temperature, from one pass of logits. */
async function perplexities(runner: ModelRunner, windows: number[][], layerIndices: number[]): Promise<number[]> {
  const V = runner.config.vocabSize;
  const nll = temperatures.map(() => 0);
  let count = 0;
  for (const ids of windows) {
    runner.createSequence(1, { layerIndices });
    try {
      const [logits] = await runner.step([{ seqId: 1, tokenIds: ids, allLogits: true }]);
      for (let t = 0; t + 1 < ids.length; t++, count++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        let max = -Infinity;
        for (const x of row) if (x > max) max = x;
        temperatures.forEach((T, k) => {
          let sum = 0;
          for (const x of row) sum += Math.exp((x - max) / T);
          nll[k] -= (row[ids[t + 1]] - max) / T - Math.log(sum);
        });
      }
    } finally {
      runner.freeSequence(1);
    }
  }
  return nll.map((x) => Math.exp(x / Math.max(1, count)));
}

const model = await loadModel(join(root, 'models/default'));
const windows = calibrationWindows(model.tokenizer!, readFileSync(join(root, 'models/default/calibration.txt'), 'utf8'), 128, maxTokens);
// The shipped container's ranking (Block Influence, bench/results/adaptive-quality.json).
const ranking = (JSON.parse(readFileSync(join(root, 'bench/results/adaptive-quality.json'), 'utf8')) as { layerImportance: { ranking: number[] } }).layerImportance.ranking;
const variants: [string, WeightProvider][] = [['bf16 (lossless)', model.weights]];
for (const [fillName, fill] of Object.entries(FILLS)) {
  variants.push([`e8m3 ${fillName}`, atRung(model.weights, 2, fill)], [`e8m1 ${fillName}`, atRung(model.weights, 1, fill)]);
}
console.log(`${windows.length * 128} tokens; ranking ${ranking.join(' ')}; columns: depth@temperature`);
console.log(['variant'.padEnd(18), ...depths.flatMap((d) => temperatures.map((T) => `d${d}@${T}`.padStart(9)))].join(''));
for (const [name, weights] of variants) {
  const runner = await createRunner(weights, { backend: 'cpu', maxSeqLen: 128, threads: 1 });
  const cells: string[] = [];
  for (const d of depths) for (const ppl of await perplexities(runner, windows, layersAtDepth(ranking, d))) cells.push(ppl.toFixed(2).padStart(9));
  await runner.dispose();
  console.log(name.padEnd(18) + cells.join(''));
}
model.weights.close();
