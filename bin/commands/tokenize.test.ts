// Spawns `edgewise tokenize` on the bundled model: ids round-trip through --decode; chat wraps the template.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../edgewise.js', import.meta.url));
const model = fileURLToPath(new URL('../../../models/default', import.meta.url));
const fixture = fileURLToPath(new URL('../../../test/fixtures/llama-gqa', import.meta.url));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'tokenize', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('tokenize → --decode round trip, and --chat goes through the template', { skip: !existsSync(join(model, 'tokenizer.json')) }, () => {
  const text = 'Edgewise says hello, wörld!';
  const enc = run(['--model', model, text]);
  assert.equal(enc.code, 0, enc.stderr);
  const ids = enc.stdout.trim();
  assert.match(ids, /^\d+(,\d+)+$/);
  const dec = run(['--model', model, '--decode', ids]);
  assert.equal(dec.stdout, `${text}\n`);
  const chat = run(['--model', model, '--chat', '--tokens', 'Hi']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.ok(chat.stdout.split('\n').length > 4 && chat.stdout.includes('"<|im_start|>"'));
});

test('tokenize errors: missing --model, model without tokenizer', { skip: !existsSync(join(fixture, 'config.json')) }, () => {
  const noModel = run(['x']);
  assert.notEqual(noModel.code, 0);
  assert.equal(noModel.stderr, 'edgewise tokenize: error: --model is required\n');
  const noTok = run(['--model', fixture, 'x']);
  assert.notEqual(noTok.code, 0);
  assert.match(noTok.stderr, /^edgewise tokenize: error: .*has no tokenizer\.json\n$/);
});
