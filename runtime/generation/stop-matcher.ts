// Incremental stop-string matching over streamed text: releases safe text, holds back possible stop prefixes.

export interface StopPushResult {
  /** Text that can be shown now: it can no longer become part of a stop string. */
  text: string;
  /** The stop string that matched, or null. After a match the matcher releases nothing more. */
  stop: string | null;
}

/**
 * Feeds generated text piece by piece. Any suffix of the pending text that is a prefix of some
 * stop string is held back until it either completes a stop string (then the output is cut
 * before it) or can no longer match (then it is released). Released text therefore never
 * contains the start of a later match, so a stop string never leaks, even partially.
 */
export class StopMatcher {
  private readonly stops: string[];
  private pending = '';
  private stopped = false;

  constructor(stops: string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** True once a stop string has matched. */
  get isStopped(): boolean {
    return this.stopped;
  }

  push(piece: string): StopPushResult {
    if (this.stopped) return { text: '', stop: null };
    if (this.stops.length === 0) return { text: piece, stop: null };
    const buffer = this.pending + piece;
    // Earliest complete match wins; at equal positions the longer stop string (it covers more).
    let matchAt = -1;
    let matched: string | null = null;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (matchAt < 0 || at < matchAt || (at === matchAt && stop.length > (matched?.length ?? 0)))) {
        matchAt = at;
        matched = stop;
      }
    }
    if (matched !== null) {
      this.stopped = true;
      this.pending = '';
      return { text: buffer.slice(0, matchAt), stop: matched };
    }
    const hold = this.heldSuffixLength(buffer);
    this.pending = buffer.slice(buffer.length - hold);
    return { text: buffer.slice(0, buffer.length - hold), stop: null };
  }

  /** At the end of generation: releases whatever is still held back (it never matched). */
  flush(): string {
    const rest = this.stopped ? '' : this.pending;
    this.pending = '';
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private heldSuffixLength(buffer: string): number {
    let best = 0;
    for (const stop of this.stops) {
      const maxLen = Math.min(stop.length - 1, buffer.length);
      for (let len = maxLen; len > best; len--) {
        if (buffer.endsWith(stop.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
