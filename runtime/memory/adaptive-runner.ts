// ModelRunner wrapper that gives each new sequence the blocks the governor chose for its request.

import type { BatchEntry, ModelRunner, SequenceOptions } from '../engine/runner-types.js';

/** `optionsFor(seqId)` is asked when the caller passes no options of its own. */
export function withSequenceOptions(inner: ModelRunner, optionsFor: (seqId: number) => SequenceOptions | undefined): ModelRunner {
  return {
    config: inner.config,
    createSequence: (seqId: number, options?: SequenceOptions) => inner.createSequence(seqId, options ?? optionsFor(seqId)),
    freeSequence: (seqId: number) => inner.freeSequence(seqId),
    sequenceLength: (seqId: number) => inner.sequenceLength(seqId),
    step: (entries: BatchEntry[]) => inner.step(entries),
    dispose: () => inner.dispose(),
  };
}
