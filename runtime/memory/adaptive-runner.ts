// ModelRunner wrapper that gives each new sequence the blocks and precision rung the governor chose for its request.

import type { BatchEntry, ModelRunner, SequenceOptions } from '../engine/runner-types.js';

/** Sequence options plus the precision rung the sequence runs at for its whole life. */
export interface AdaptiveSequenceOptions extends SequenceOptions {
  precision?: string;
}

/**
 * `optionsFor(seqId)` is asked when the caller passes no options of its own. With
 * `selectPrecision`, a step whose sequences run at different rungs is split into one inner step
 * per rung (the weight provider decodes the rung selected before each).
 * NOTE: a mixed batch thus reads each block once per rung present, instead of once; requests at
 * one rung (the common case) still batch together. The runner itself needs no change.
 */
export function withSequenceOptions(
  inner: ModelRunner,
  optionsFor: (seqId: number) => AdaptiveSequenceOptions | undefined,
  selectPrecision?: (precision: string | undefined) => void,
): ModelRunner {
  const precisionOf = new Map<number, string | undefined>();
  return {
    config: inner.config,
    createSequence: (seqId: number, options?: SequenceOptions) => {
      const chosen = options ?? optionsFor(seqId);
      precisionOf.set(seqId, (chosen as AdaptiveSequenceOptions | undefined)?.precision);
      inner.createSequence(seqId, chosen);
    },
    freeSequence: (seqId: number) => {
      precisionOf.delete(seqId);
      inner.freeSequence(seqId);
    },
    sequenceLength: (seqId: number) => inner.sequenceLength(seqId),
    step: async (entries: BatchEntry[]) => {
      if (selectPrecision === undefined) return inner.step(entries);
      const groups = new Map<string | undefined, number[]>();
      entries.forEach((e, i) => {
        const p = precisionOf.get(e.seqId);
        groups.set(p, [...(groups.get(p) ?? []), i]);
      });
      if (groups.size === 1) {
        selectPrecision(precisionOf.get(entries[0]?.seqId));
        return inner.step(entries);
      }
      const out = new Array<Float32Array>(entries.length);
      for (const [precision, indices] of groups) {
        selectPrecision(precision);
        const logits = await inner.step(indices.map((i) => entries[i]));
        // Copied: a runner may reuse its output buffers in the next group's step.
        indices.forEach((i, k) => (out[i] = logits[k].slice()));
      }
      return out;
    },
    dispose: () => inner.dispose(),
  };
}
