// Tests loadModel / loadTokenizerAndTemplate on the bundled model, a fixture, and bad paths.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ModelFormatError, ModelNotFoundError } from '../errors.js';
import { loadModel, loadTokenizerAndTemplate } from './load-model.js';

const root = mkdtempSync(join(tmpdir(), 'edgewise-lm-'));
after(() => rmSync(root, { recursive: true, force: true }));
// Compiled to dist/runtime/model/: the repo root is three levels up.
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const DEFAULT = join(repo, 'models/default');
const FIXTURE = join(repo, 'test/fixtures/qwen2-bias');

test('bundled default model: config, tokenizer, ChatML template and fp32 weights', { skip: !existsSync(join(DEFAULT, 'config.json')) }, async () => {
  const m = await loadModel(DEFAULT);
  assert.equal(m.format, 'hf-folder');
  assert.equal(m.path, DEFAULT);
  assert.equal(m.config.architecture, 'LlamaForCausalLM');
  assert.ok(m.config.numKvHeads < m.config.numHeads, 'GQA');
  assert.ok(m.tokenizer !== null && m.chatTemplate !== null);
  assert.equal(m.weights.config, m.config);
  assert.equal(m.weights.embedding().length, m.config.vocabSize * m.config.hiddenSize);
  const l0 = await m.weights.layer(0);
  assert.equal(l0.qProj.length, m.config.numHeads * m.config.headDim * m.config.hiddenSize);
  assert.ok(l0.qProj.some((v) => v !== 0));
  // Every EOS id of the config is also a stop id of the tokenizer.
  for (const id of m.config.eosTokenIds) assert.ok(m.tokenizer!.eosTokenIds.includes(id), `eos ${id}`);
  const prompt = m.chatTemplate!.render([{ role: 'user', content: 'Hello' }], { addGenerationPrompt: true });
  const ids = m.tokenizer!.encode(prompt, { addSpecialTokens: false });
  assert.equal(m.tokenizer!.decode(ids), prompt);
  m.weights.close();
});

test('loadTokenizerAndTemplate reads no weights and merges generation_config eos ids', async () => {
  const dir = join(root, 'gen');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 16, eos_token_id: 2 }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7] }));
  const t = await loadTokenizerAndTemplate(dir); // no safetensors in the folder: must not matter
  assert.deepEqual(t.config.eosTokenIds, [2, 7]);
  assert.equal(t.tokenizer, null);
  assert.equal(t.chatTemplate, null);
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof ModelFormatError && /no model\.safetensors/.test(e.message));
});

test('a fixture without tokenizer.json loads with tokenizer null', { skip: !existsSync(join(FIXTURE, 'config.json')) }, async () => {
  const m = await loadModel(FIXTURE);
  assert.equal(m.tokenizer, null);
  assert.equal(m.config.architecture, 'Qwen2ForCausalLM');
  assert.ok((await m.weights.layer(0)).qBias !== null);
});

test('bad paths: missing, folder without config.json, a file that is not a container, invalid JSON', async () => {
  await assert.rejects(loadModel(join(root, 'nope')), (e: unknown) => e instanceof ModelNotFoundError && e.message.includes(join(root, 'nope')));
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadModel(empty), (e: unknown) => e instanceof ModelFormatError && e.message.includes(join(empty, 'config.json')) && /file not found/.test(e.message));
  const file = join(root, 'weights.bin');
  writeFileSync(file, 'x');
  await assert.rejects(loadTokenizerAndTemplate(file), /expected a Hugging Face model folder or an \.ewm container file/);
  const badJson = join(root, 'badjson');
  mkdirSync(badJson);
  writeFileSync(join(badJson, 'config.json'), '{"architectures": [');
  await assert.rejects(loadModel(badJson), /config\.json: not valid JSON/);
});
