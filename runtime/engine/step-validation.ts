// Argument checks every ModelRunner backend applies to createSequence options and step batches.

import type { BatchEntry } from './runner-types.js';
import { InvalidRequestError } from '../errors.js';

/** A runner's live sequence by id; an unknown id is the caller's mistake, not an engine failure. */
export function lookupSequence<S>(sequences: ReadonlyMap<number, S>, seqId: number): S {
  const seq = sequences.get(seqId);
  if (seq === undefined) throw new InvalidRequestError(`unknown sequence ${seqId}`, 'seqId');
  return seq;
}

/** The block indices a sequence runs: all when absent, else strictly ascending and in range. */
export function checkLayerIndices(layerIndices: number[] | undefined, numLayers: number): number[] {
  const layers = layerIndices ?? Array.from({ length: numLayers }, (_, i) => i);
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (!Number.isInteger(l) || l < 0 || l >= numLayers || (i > 0 && l <= layers[i - 1])) {
      throw new InvalidRequestError(`layerIndices must be ascending block indices in [0, ${numLayers}), got [${layers.join(', ')}]`, 'layerIndices');
    }
  }
  return [...layers];
}

/**
 * Checks one step's entries (distinct known sequences, at least one token each, in the
 * vocabulary, within maxSeqLen) and returns each entry's sequence from `lookup`.
 */
export function checkStepEntries<S extends { length: number }>(
  entries: BatchEntry[],
  lookup: (seqId: number) => S,
  limits: { maxSeqLen: number; vocabSize: number },
): S[] {
  const seen = new Set<number>();
  return entries.map((e) => {
    if (seen.has(e.seqId)) throw new InvalidRequestError(`sequence ${e.seqId} appears twice in one step`, 'seqId');
    seen.add(e.seqId);
    const seq = lookup(e.seqId);
    if (e.tokenIds.length === 0) throw new InvalidRequestError(`sequence ${e.seqId}: no tokens to run`, 'tokenIds');
    if (seq.length + e.tokenIds.length > limits.maxSeqLen) {
      throw new InvalidRequestError(`sequence ${e.seqId}: ${seq.length + e.tokenIds.length} tokens exceed maxSeqLen ${limits.maxSeqLen}`, 'tokenIds');
    }
    for (const id of e.tokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) {
        throw new InvalidRequestError(`token id ${id} is outside the vocabulary [0, ${limits.vocabSize})`, 'tokenIds');
      }
    }
    return seq;
  });
}
