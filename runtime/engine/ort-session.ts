// Creates onnxruntime-node CPU sessions from graph bytes with Edgewise's session options.

import ort from 'onnxruntime-node';
import { EdgewiseError } from '../errors.js';

export { ort };

/** Session options shared by every graph: CPU, sequential, `threads` intra-op threads. */
export function sessionOptions(threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    // 0 lets onnxruntime pick (one per physical core).
    intraOpNumThreads: threads ?? 0,
    logSeverityLevel: 3,
  };
}

export async function createSession(bytes: Uint8Array, threads: number | undefined, what: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions(threads));
  } catch (err) {
    throw new EdgewiseError('engine_fatal', `onnxruntime could not load the ${what} graph: ${(err as Error).message}`, { cause: err });
  }
}

/** A float32 tensor over `data` without copying it. */
export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}
