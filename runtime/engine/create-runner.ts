// Picks the engine backend for a model: 'cpu' runs on onnxruntime-node; 'webgpu' plugs in here.

import type { ModelRunner, WeightProvider } from './runner-types.js';
import { InvalidRequestError } from '../errors.js';
import { createOrtRunner } from './ort-runner.js';
import { createWebgpuRunner } from './webgpu-runner.js';

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
      return createWebgpuRunner(weights, { maxSeqLen: options.maxSeqLen });
    default:
      throw new InvalidRequestError(`unknown backend ${String((options as { backend: unknown }).backend)}`, 'backend');
  }
}
