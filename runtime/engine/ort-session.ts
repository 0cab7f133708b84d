// Creates onnxruntime-node CPU sessions from graph bytes and runs them with as little per-call overhead as possible.

import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import { EdgewiseError } from '../errors.js';

export { ort };

export type Feeds = Record<string, ort.Tensor>;
/** Output name → a preallocated tensor to write into, or null to let onnxruntime allocate. */
export type Fetches = Record<string, ort.Tensor | null>;

/** One loaded graph. `run` executes synchronously on the calling thread, like onnxruntime itself. */
export interface GraphSession {
  run(feeds: Feeds, fetches: Fetches): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

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
    // NOTE: onnxruntime's intra-op threads spin-wait after each run by default. Between runs
    // the native decode step (and the server's own thread) need those cores: with spinning on,
    // a profile of serve-bench at 16 streams put over half the process's CPU in onnxruntime.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Feeds, fetches: Fetches, options: object): Record<string, ort.Tensor>;
  dispose(): void;
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

/*
 * NOTE: the engine calls run() once per block per step, so per-call overhead matters. The
 * public InferenceSession.run re-validates feeds, wraps every output in a new Tensor and hops
 * through setImmediate; the package's own native binding (pinned onnxruntime-node 1.30.0)
 * does the same work synchronously. We call it directly and fall back to the public API if
 * a future package layout hides it.
 */
function loadNativeBinding(): NativeBinding | null {
  try {
    const required = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as NativeBinding;
    if (typeof required.binding?.InferenceSession !== 'function' || typeof required.initOrt !== 'function') return null;
    required.initOrt();
    return required;
  } catch {
    return null;
  }
}
let native: NativeBinding | null | undefined;

/**
 * `prepack: false` turns off onnxruntime's prepacking of constant MatMul/Gemm weights (only
 * engine-bench uses it, to show how much of the block-wise gap prepacking explains).
 */
export async function createSession(bytes: Uint8Array, threads: number | undefined, what: string, tuning: { prepack?: boolean } = {}): Promise<GraphSession> {
  const options: ort.InferenceSession.SessionOptions = sessionOptions(threads);
  if (tuning.prepack === false) options.extra = { session: { ...(options.extra as { session: object }).session, disable_prepacking: '1' } };
  try {
    if (native === undefined) native = loadNativeBinding();
    if (native !== null) {
      const session = new native.binding.InferenceSession();
      session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
      return {
        run: async (feeds, fetches) => session.run(feeds, fetches, {}),
        release: async () => session.dispose(),
      };
    }
    const session = await ort.InferenceSession.create(bytes, options);
    return {
      run: (feeds, fetches) => session.run(feeds, fetches) as Promise<Record<string, ort.Tensor>>,
      release: () => session.release(),
    };
  } catch (err) {
    throw new EdgewiseError('engine_fatal', `onnxruntime could not load the ${what} graph: ${(err as Error).message}`, { cause: err });
  }
}

/** A float32 tensor over `data` without copying it. */
export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}
