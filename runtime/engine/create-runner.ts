// Picks the engine backend for a model: 'cpu' runs on onnxruntime-node; 'webgpu' plugs in here.

import type { ModelRunner, WeightProvider } from './runner-types.js';
import { InvalidRequestError } from '../errors.js';
import { createOrtRunner } from './ort-runner.js';

export interface CreateRunnerOptions {
  backend: 'cpu' | 'webgpu';
  /** Longest sequence a cache may hold; default min(config context, 4096). */
  maxSeqLen?: number;
  /** CPU threads for the backend; default lets it choose. */
  threads?: number;
}

export async function createRunner(weights: WeightProvider, options: CreateRunnerOptions): Promise<ModelRunner> {
  switch (options.backend) {
    case 'cpu':
      return createOrtRunner(weights, { maxSeqLen: options.maxSeqLen, threads: options.threads });
    case 'webgpu':
      // The webgpu engineer adds its runner (runtime/engine/webgpu-*.ts) here.
      throw new InvalidRequestError('the webgpu backend is not available in this build', 'backend');
    default:
      throw new InvalidRequestError(`unknown backend ${String((options as { backend: unknown }).backend)}`, 'backend');
  }
}
