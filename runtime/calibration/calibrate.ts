// Calibrates an .ewm container: block ranking (Block Influence) and held-out perplexity per (depth, precision).

import { createRunner } from '../engine/create-runner.js';
import { InvalidRequestError } from '../errors.js';
import { loadModel } from '../model/load-model.js';
import { HiddenStateProbe, blockInfluence } from './block-influence.js';
import { calibrationWindows } from './calibration-text.js';
import { layersAtDepth, type LayerImportance, type QualityTable } from './calibration-types.js';
import { writeCalibration } from './ewm-calibration-store.js';
import { perplexity } from './perplexity.js';

export interface CalibrateOptions {
  /** Tokens per scored window (default 128). */
  windowTokens?: number;
  /** Held-out tokens used in all (default 8192). */
  maxTokens?: number;
  threads?: number;
  /** Precision rungs to measure; only 'bf16' (lossless) exists in this build. */
  precisions?: string[];
  /** Called after each measured point (CLI progress). */
  onPoint?: (what: string) => void;
}

export interface CalibrateResult {
  layerImportance: LayerImportance;
  qualityTables: QualityTable;
}

/** Measures and stores both calibration keys in the container at `path`. */
export async function calibrateContainer(path: string, text: string, options: CalibrateOptions = {}): Promise<CalibrateResult> {
  if (!path.endsWith('.ewm')) throw new InvalidRequestError(`calibrate writes into an .ewm container, got ${path}`, 'model');
  const windowTokens = options.windowTokens ?? 128;
  const maxTokens = options.maxTokens ?? 8192;
  const precisions = options.precisions ?? ['bf16'];
  const model = await loadModel(path);
  try {
    if (model.tokenizer === null) throw new InvalidRequestError(`${path} has no tokenizer.json; calibration needs one to tokenize the held-out text`, 'model');
    const windows = calibrationWindows(model.tokenizer, text, windowTokens, maxTokens);
    if (windows.length === 0) throw new InvalidRequestError(`held-out text gives fewer than ${windowTokens} tokens`, 'text');
    const probeRunner = await createRunner(new HiddenStateProbe(model.weights), { backend: 'cpu', maxSeqLen: windowTokens, threads: options.threads });
    let layerImportance: LayerImportance;
    try {
      layerImportance = await blockInfluence(probeRunner, model.weights.embedding(), windows);
    } finally {
      await probeRunner.dispose();
    }
    options.onPoint?.(`block influence ${layerImportance.scores.map((s) => s.toFixed(4)).join(' ')}`);
    const runner = await createRunner(model.weights, { backend: 'cpu', maxSeqLen: windowTokens, threads: options.threads });
    const points: QualityTable['points'] = [];
    try {
      for (const precision of precisions) {
        if (precision !== 'bf16') throw new InvalidRequestError(`unknown precision rung "${precision}" (this build has: bf16)`, 'precision');
        for (let depth = model.config.numLayers; depth >= 1; depth--) {
          const ppl = await perplexity(runner, windows, layersAtDepth(layerImportance.ranking, depth));
          points.push({ depth, precision, perplexity: ppl });
          options.onPoint?.(`depth ${depth} ${precision}: perplexity ${ppl.toFixed(3)}`);
        }
      }
    } finally {
      await runner.dispose();
    }
    const qualityTables: QualityTable = { numTokens: windows.length * windowTokens, windowTokens, points };
    model.weights.close();
    writeCalibration(path, { layerImportance, qualityTables });
    return { layerImportance, qualityTables };
  } catch (err) {
    model.weights.close();
    throw err;
  }
}
