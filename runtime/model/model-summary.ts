// Describes a model folder from its headers alone (no weight data read): shapes, parameter count, sizes.

import { detectModelFormat, buildTokenizerAndTemplate, readModelFiles, type ModelFormat } from './load-model.js';
import { checkTensors } from './hf-weights.js';
import type { ModelConfig } from './model-config.js';
import { SafetensorsCheckpoint } from './safetensors-checkpoint.js';
import { UnsupportedModelError } from '../errors.js';

export interface ModelSummary {
  path: string;
  format: ModelFormat;
  config: ModelConfig;
  /** Parameters the model uses (a tied LM head counted once). */
  numParams: number;
  /** Bytes of the weight files on disk. */
  diskBytes: number;
  numFiles: number;
  /** Stored dtypes of the used tensors, most common first. */
  dtypes: string[];
  fp32Bytes: number;
  bf16Bytes: number;
  tokenizerVocab: number | null;
  hasChatTemplate: boolean;
}

export function summarizeModel(path: string): ModelSummary {
  const format = detectModelFormat(path);
  // Containers have their own summary (segments, codebooks, bits per weight): runtime/container/ewm-info.ts.
  if (format === 'ewm') throw new UnsupportedModelError(`${path}: summarizeModel reads Hugging Face folders; use describeEwm for .ewm containers`);
  const { config, tokenizer, chatTemplate } = buildTokenizerAndTemplate(readModelFiles(path));
  const checkpoint = SafetensorsCheckpoint.openFolder(path);
  try {
    const expected = checkTensors(checkpoint, config, path);
    let numParams = 0;
    const dtypeParams = new Map<string, number>();
    for (const t of expected) {
      const n = t.shape.reduce((a, d) => a * d, 1);
      numParams += n;
      const dtype = checkpoint.info(t.name).dtype;
      dtypeParams.set(dtype, (dtypeParams.get(dtype) ?? 0) + n);
    }
    return {
      path,
      format,
      config,
      numParams,
      diskBytes: checkpoint.diskBytes(),
      numFiles: checkpoint.files.length,
      dtypes: [...dtypeParams].sort((a, b) => b[1] - a[1]).map(([d]) => d),
      fp32Bytes: numParams * 4,
      bf16Bytes: numParams * 2,
      tokenizerVocab: tokenizer?.vocabSize ?? null,
      hasChatTemplate: chatTemplate !== null,
    };
  } finally {
    checkpoint.close();
  }
}
