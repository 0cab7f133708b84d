// Held-out perplexity of token windows through a real ModelRunner, at a given set of blocks.

import type { ModelRunner } from '../engine/runner-types.js';

/** exp(mean NLL) of every next token in `windows`, each window run as a fresh sequence. */
export async function perplexity(runner: ModelRunner, windows: number[][], layerIndices?: number[]): Promise<number> {
  const V = runner.config.vocabSize;
  let nll = 0;
  let count = 0;
  for (const ids of windows) {
    const seqId = 1;
    runner.createSequence(seqId, { layerIndices });
    try {
      const [logits] = await runner.step([{ seqId, tokenIds: ids, allLogits: true }]);
      for (let t = 0; t + 1 < ids.length; t++) {
        nll -= logSoftmaxAt(logits.subarray(t * V, (t + 1) * V), ids[t + 1]);
        count++;
      }
    } finally {
      runner.freeSequence(seqId);
    }
  }
  return Math.exp(nll / Math.max(1, count));
}

/** log softmax(row)[target], computed stably in float64. */
export function logSoftmaxAt(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return row[target] - max - Math.log(sum);
}
