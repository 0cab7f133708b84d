// Spawns the built CLI: help, info, and bad input (missing path, truncated safetensors, unknown architecture).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../runtime/model/safetensors.js';

const cli = fileURLToPath(new URL('./edgewise.js', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const fixture = join(repo, 'test/fixtures/llama-gqa');
const root = mkdtempSync(join(tmpdir(), 'edgewise-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, EDGEWISE_DEBUG: '', ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The failure contract: non-zero exit, exactly one stderr line naming the command, no stack trace. */
function assertOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  assert.notEqual(r.code, null);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^edgewise( \w+)?: error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

/** A model folder with the fixture's config and weights, edited by `edit`. */
function modelCopy(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  copyFileSync(join(fixture, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(fixture, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

test('--help lists the commands; a command --help prints its usage', () => {
  const top = run(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Commands:\n(.|\n)*\binfo\s+show the architecture/);
  const info = run(['info', '--help']);
  assert.equal(info.code, 0);
  assert.match(info.stdout, /Usage: edgewise info <model-dir/);
  assert.notEqual(run([]).code, 0, 'no command is a usage error');
  assert.match(run(['--version']).stdout, /^edgewise \d+\.\d+\.\d+\n$/);
});

test('unknown command and bad options: one line, non-zero', () => {
  assertOneLineError(run(['frobnicate']), /unknown command "frobnicate"/);
  assertOneLineError(run(['info', '--bogus', 'x']), /Unknown option '--bogus'/);
  assertOneLineError(run(['info']), /missing argument <model-dir>/);
});

test('info prints architecture, shapes, parameters and sizes', { skip: !existsSync(join(fixture, 'config.json')) }, () => {
  const r = run(['info', fixture]);
  assert.equal(r.code, 0, r.stderr);
  for (const key of ['architecture', 'layers', 'hidden', 'heads', 'head dim', 'vocab', 'context', 'tied embeddings', 'parameters', 'on disk', 'in memory fp32', 'in memory bf16']) {
    assert.ok(r.stdout.includes(key), key);
  }
  assert.match(r.stdout, /LlamaForCausalLM/);
  const json = JSON.parse(run(['info', fixture, '--json']).stdout) as { numParams: number; diskBytes: number; fp32Bytes: number };
  assert.equal(json.fp32Bytes, json.numParams * 4);
  // Independent count: every tensor in the fixture's file (untied, nothing extra) from its header.
  const file = SafetensorsFile.open(join(fixture, 'model.safetensors'));
  const headerCount = file.tensors().reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  file.close();
  assert.equal(json.numParams, headerCount);
  assert.equal(json.diskBytes, statSync(join(fixture, 'model.safetensors')).size);
});

test('bad input: missing path, truncated safetensors, unknown architecture', { skip: !existsSync(join(fixture, 'config.json')) }, () => {
  assertOneLineError(run(['info', join(root, 'no-such-model')]), /model not found: .*no-such-model/);

  const truncated = modelCopy('truncated');
  const size = statSync(join(truncated, 'model.safetensors')).size;
  truncateSync(join(truncated, 'model.safetensors'), Math.floor(size / 2));
  assertOneLineError(run(['info', truncated]), /model\.safetensors: file is truncated: tensor "[^"]+"/);

  const unknown = modelCopy('unknown-arch');
  writeFileSync(join(unknown, 'config.json'), JSON.stringify({ architectures: ['GPTNeoXForCausalLM'], hidden_size: 64 }));
  assertOneLineError(run(['info', unknown]), /unsupported architecture "GPTNeoXForCausalLM"/);
});

test('EDGEWISE_DEBUG=1 adds the stack trace', () => {
  const r = run(['info', join(root, 'no-such-model')], { EDGEWISE_DEBUG: '1' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /\n\s+at /);
});
