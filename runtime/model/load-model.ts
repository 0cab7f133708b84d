// Loads a model from a path: an HF folder (config, tokenizer, chat template, weights) or an .ewm container.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFormatError, ModelNotFoundError } from '../errors.js';
import type { WeightProvider } from '../engine/runner-types.js';
import { ChatTemplate, chatTemplateSource } from './chat-template.js';
import { parseHfConfig } from './hf-config.js';
import { HfWeightProvider } from './hf-weights.js';
import { isObject, tokenIdListField } from './json-fields.js';
import type { ModelConfig } from './model-config.js';
import { SafetensorsCheckpoint } from './safetensors-checkpoint.js';
import { Tokenizer } from './tokenizer.js';
import { readEwmModelFiles } from '../container/ewm-model-files.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';

export type ModelFormat = 'hf-folder' | 'ewm';

export interface LoadedModel {
  config: ModelConfig;
  tokenizer: Tokenizer | null;
  chatTemplate: ChatTemplate | null;
  weights: WeightProvider;
  path: string;
  format: ModelFormat;
}

export interface TokenizerAndTemplate {
  config: ModelConfig;
  tokenizer: Tokenizer | null;
  chatTemplate: ChatTemplate | null;
}

/** The small JSON/text files of an HF model, parsed; a container stores the same set. */
export interface ModelFiles {
  /** Names the source in error messages. */
  where: string;
  config: unknown;
  tokenizerJson: unknown | null;
  tokenizerConfig: unknown | null;
  generationConfig: unknown | null;
  chatTemplateJinja: string | null;
}

export interface LoadOptions {
  /** Called as weights are read: (tensors done, tensors total). */
  onProgress?: (done: number, total: number) => void;
  /** A .ewm container's blocks stay in the file and are read when decoded (under a memory budget). */
  onDemandSegments?: boolean;
}

/** Which loader a path needs; throws ModelNotFoundError when nothing is there. */
export function detectModelFormat(path: string): ModelFormat {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new ModelNotFoundError(path);
  }
  if (isDir) return 'hf-folder';
  if (path.endsWith('.ewm')) return 'ewm';
  throw new ModelFormatError(path, 'expected a Hugging Face model folder or an .ewm container file');
}

function readJson(path: string, required: boolean): unknown | null {
  if (!existsSync(path)) {
    if (required) throw new ModelFormatError(path, 'file not found (a Hugging Face model folder needs it)');
    return null;
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelFormatError(path, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads config.json (required), tokenizer.json, tokenizer_config.json, generation_config.json, chat_template.jinja. */
export function readModelFiles(dir: string): ModelFiles {
  const jinja = join(dir, 'chat_template.jinja');
  return {
    where: dir,
    config: readJson(join(dir, 'config.json'), true),
    tokenizerJson: readJson(join(dir, 'tokenizer.json'), false),
    tokenizerConfig: readJson(join(dir, 'tokenizer_config.json'), false),
    generationConfig: readJson(join(dir, 'generation_config.json'), false),
    chatTemplateJinja: existsSync(jinja) ? readFileSync(jinja, 'utf8') : null,
  };
}

/** How errors name one of the small files: a path inside a folder, "<container> <file>" inside a container. */
function fileWhere(where: string, file: string): string {
  return where.endsWith('.ewm') ? `${where} ${file}` : join(where, file);
}

/** Config, tokenizer and chat template from the parsed files (shared by the folder and container loaders). */
export function buildTokenizerAndTemplate(files: ModelFiles): TokenizerAndTemplate {
  const config = parseHfConfig(files.config, fileWhere(files.where, 'config.json'));
  // generation_config.json often lists more stop ids than config.json (Llama 3's <|eot_id|>).
  const genEos = isObject(files.generationConfig) ? tokenIdListField(files.generationConfig, 'eos_token_id', fileWhere(files.where, 'generation_config.json')) : [];
  config.eosTokenIds = [...new Set([...config.eosTokenIds, ...genEos])];
  const tokenizer =
    files.tokenizerJson === null
      ? null
      : new Tokenizer({
          tokenizerJson: files.tokenizerJson,
          tokenizerConfig: files.tokenizerConfig,
          extraEosTokenIds: config.eosTokenIds,
          fallbackBosTokenId: config.bosTokenId,
          where: files.where,
        });
  const templateWhere = fileWhere(files.where, 'tokenizer_config.json');
  const source = chatTemplateSource(files.tokenizerConfig, files.chatTemplateJinja, templateWhere);
  const chatTemplate = source === null ? null : new ChatTemplate(source, { bosToken: tokenizer?.bosToken ?? null, eosToken: tokenizer?.eosToken ?? null }, templateWhere);
  return { config, tokenizer, chatTemplate };
}

/** Everything but the weights: fast, for servers and CLIs that tokenize on their own thread. */
export async function loadTokenizerAndTemplate(path: string): Promise<TokenizerAndTemplate> {
  const format = detectModelFormat(path);
  if (format === 'ewm') return loadEwmTokenizerAndTemplate(path);
  return buildTokenizerAndTemplate(readModelFiles(path));
}

export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const format = detectModelFormat(path);
  if (format === 'ewm') return loadEwmModel(path, options);
  const { config, tokenizer, chatTemplate } = buildTokenizerAndTemplate(readModelFiles(path));
  const checkpoint = SafetensorsCheckpoint.openFolder(path);
  try {
    const weights = HfWeightProvider.load(checkpoint, config, path, options.onProgress);
    return { config, tokenizer, chatTemplate, weights, path, format };
  } finally {
    checkpoint.close();
  }
}

// NOTE: the .ewm container branch belongs to the codec (runtime/container/*).
async function loadEwmTokenizerAndTemplate(path: string): Promise<TokenizerAndTemplate> {
  return buildTokenizerAndTemplate(readEwmModelFiles(path));
}

async function loadEwmModel(path: string, options: LoadOptions): Promise<LoadedModel> {
  const { config, tokenizer, chatTemplate } = buildTokenizerAndTemplate(readEwmModelFiles(path));
  const weights = EwmWeightProvider.open(path, config, { onProgress: options.onProgress, onDemand: options.onDemandSegments });
  return { config, tokenizer, chatTemplate, weights, path, format: 'ewm' };
}
