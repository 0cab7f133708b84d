// The WebGPU engine against the same PyTorch reference fixtures; skipped while this build has no webgpu backend.

import { createRunner } from '../runtime/engine/create-runner.js';
import { isEdgewiseError } from '../runtime/errors.js';
import { loadModel } from '../runtime/model/load-model.js';
import { defineParitySuite } from './helpers/parity-suite.js';
import { FIXTURES_DIR } from './helpers/reference-fixtures.js';

/**
 * Null when a webgpu runner can be created, else why not. Only "backend not built" and
 * "no GPU adapter" skip; any other failure is a real error and fails the suite.
 */
async function webgpuUnavailableReason(): Promise<string | null> {
  const model = await loadModel(`${FIXTURES_DIR}/llama-gqa`);
  try {
    const runner = await createRunner(model.weights, { backend: 'webgpu', maxSeqLen: 16 });
    await runner.dispose();
    return null;
  } catch (err) {
    if (isEdgewiseError(err) && (err.param === 'backend' || err.kind === 'unavailable')) return err.message;
    throw err;
  } finally {
    model.weights.close();
  }
}

const reason = await webgpuUnavailableReason();
defineParitySuite('webgpu', { skip: reason ?? false });
