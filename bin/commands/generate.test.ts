// `edgewise generate` end to end: parity with the PyTorch reference via --prompt-ids, chat, seeds, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadTokenizerAndTemplate } from '../../runtime/model/load-model.js';

const root = new URL('../../../', import.meta.url).pathname;
const cli = `${root}dist/bin/edgewise.js`;
const DEFAULT_MODEL = `${root}models/default`;

function edgewise(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'generate', ...args], { encoding: 'utf8', env: { ...process.env, EDGEWISE_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const variant of ['llama-gqa', 'qwen2-bias']) {
  test(`greedy --prompt-ids on ${variant} reproduces the reference's 32 tokens`, () => {
    const dir = `${root}test/fixtures/${variant}`;
    const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as { prompt_ids: number[]; greedy_ids: number[] };
    const r = edgewise('--model', dir, '--prompt-ids', ref.prompt_ids.join(','), '--max-tokens', '32', '--temperature', '0', '--print-ids');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[lines.length - 1], ref.greedy_ids.join(','));
  });
}

test('--chat on the default model: streamed text is the decode of the printed ids; seeds reproduce', { skip: !existsSync(`${DEFAULT_MODEL}/tokenizer.json`) }, async () => {
  const args = ['--model', DEFAULT_MODEL, '--prompt', 'Tell me a story.', '--chat', '--system', 'You are brief.', '--max-tokens', '12', '--seed', '5', '--print-ids'];
  const a = edgewise(...args);
  assert.equal(a.code, 0, a.stderr);
  const lines = a.stdout.split('\n');
  const ids = lines[lines.length - 2].split(',').map(Number);
  assert.ok(ids.length >= 1 && ids.length <= 12 && ids.every(Number.isInteger), lines[lines.length - 2]);
  const { tokenizer } = await loadTokenizerAndTemplate(DEFAULT_MODEL);
  const text = lines.slice(0, -2).join('\n');
  assert.equal(text, tokenizer!.decode(ids.filter((id) => !tokenizer!.eosTokenIds.includes(id)), { skipSpecialTokens: true }));
  assert.equal(edgewise(...args).stdout, a.stdout, 'same seed, same output');
});

test('bad input: one-line errors, no stack, non-zero exit', () => {
  const cases: [string[], number, RegExp][] = [
    [['--prompt', 'hi'], 2, /--model is required/],
    [['--model', `${root}test/fixtures/llama-gqa`, '--prompt', 'hi'], 2, /no tokenizer/],
    [['--model', '/nonexistent/model', '--prompt', 'hi'], 1, /not found/],
    [['--model', `${root}test/fixtures/llama-gqa`, '--prompt-ids', '1,x'], 2, /--prompt-ids/],
    [['--model', `${root}test/fixtures/llama-gqa`, '--prompt-ids', '1', '--temperature', '-1'], 2, /--temperature/],
    [['--model', `${root}test/fixtures/llama-gqa`, '--prompt-ids', '99999'], 1, /outside the vocabulary/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = edgewise(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^edgewise generate: error: .+\n$/);
    assert.match(r.stderr, pattern);
  }
});
