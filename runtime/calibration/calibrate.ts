// Calibrates an .ewm container: block ranking (Block Influence) and held-out perplexity per (depth, precision rung).

import { createRunner } from '../engine/create-runner.js';
import { InvalidRequestError } from '../errors.js';
import { loadModel } from '../model/load-model.js';
import { HiddenStateProbe, blockInfluence } from './block-influence.js';
import { calibrationWindows } from './calibration-text.js';
import { layersAtDepth, type LayerImportance, type QualityTable } from './calibration-types.js';
import { writeCalibration } from './ewm-calibration-store.js';
import { perplexity } from './perplexity.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { PRECISIONS, precisionRung } from '../container/precision.js';

export interface CalibrateOptions {
  /** Tokens per scored window (default 128). */
  windowTokens?: number;
  /** Held-out tokens used in all (default 8192). */
  maxTokens?: number;
  threads?: number;
  /** Precision rungs to measure (default: every rung, runtime/container/precision.ts). */
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
  const rungs = (options.precisions ?? PRECISIONS.map((p) => p.name)).map((name) => precisionRung(name, 'precision'));
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
    if (!(model.weights instanceof EwmWeightProvider)) throw new InvalidRequestError(`${path} did not load as a container`, 'model');
    const store = model.weights;
    const points: QualityTable['points'] = [];
    // One runner per rung, over the same store (its LM head is baked at creation and stays lossless).
    for (const rung of rungs) {
      const runner = await createRunner(store.atRung(rung), { backend: 'cpu', maxSeqLen: windowTokens, threads: options.threads });
      try {
        for (let depth = model.config.numLayers; depth >= 1; depth--) {
          const ppl = await perplexity(runner, windows, layersAtDepth(layerImportance.ranking, depth));
          points.push({ depth, precision: rung.name, perplexity: ppl });
          options.onPoint?.(`depth ${depth} ${rung.name}: perplexity ${ppl.toFixed(3)}`);
        }
      } finally {
        await runner.dispose();
      }
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
