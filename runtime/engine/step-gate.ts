// The guard every ModelRunner puts around step(): one step at a time, none after dispose.

import { EdgewiseError } from '../errors.js';

export class StepGate {
  /** A step is running. */
  busy = false;
  /** dispose() has begun. */
  disposed = false;

  /** Runs `step` unless the runner is disposed or already stepping (both engine_fatal: the caller's bug). */
  async run<T>(step: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new EdgewiseError('engine_fatal', 'runner is disposed');
    if (this.busy) throw new EdgewiseError('engine_fatal', 'ModelRunner.step called while another step is running');
    this.busy = true;
    try {
      return await step();
    } finally {
      this.busy = false;
    }
  }

  /** Marks the runner disposed; true only the first time, so dispose() frees its resources once. */
  close(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    return true;
  }
}
