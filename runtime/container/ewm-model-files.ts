// The small model files (config, tokenizer, chat template) a container carries, in the loader's shape.

import type { ModelFiles } from '../model/load-model.js';
import { ModelFormatError } from '../errors.js';
import { EwmFile } from './ewm-reader.js';

function parseJsonFile(files: Record<string, string>, name: string, where: string): unknown | null {
  const text = files[name];
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ModelFormatError(`${where} ${name}`, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads only the header and metadata of the container at `path`. */
export function readEwmModelFiles(path: string): ModelFiles {
  const file = EwmFile.open(path);
  try {
    return ewmModelFiles(file);
  } finally {
    file.close();
  }
}

export function ewmModelFiles(file: EwmFile): ModelFiles {
  const { files, config } = file.metadata;
  return {
    where: file.path,
    config,
    tokenizerJson: parseJsonFile(files, 'tokenizer.json', file.path),
    tokenizerConfig: parseJsonFile(files, 'tokenizer_config.json', file.path),
    generationConfig: parseJsonFile(files, 'generation_config.json', file.path),
    chatTemplateJinja: files['chat_template.jinja'] ?? null,
  };
}
