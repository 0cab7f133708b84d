// Tests the CLI helpers: option parsing with ranges, id lists, help detection, formatting.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatCount, parseCommandArgs, parseFloatOption, parseIdList, parseIntOption, UsageError, wantsHelp } from './cli-util.js';

test('parseIntOption: fallback, range and garbage', () => {
  assert.equal(parseIntOption(undefined, '--n', { fallback: 7 }), 7);
  assert.equal(parseIntOption('12', '--n', { min: 1, max: 100 }), 12);
  assert.throws(() => parseIntOption('0', '--n', { min: 1, max: 100 }), (e: unknown) => e instanceof UsageError && e.message === '--n must be an integer in 1..100, got "0"');
  assert.throws(() => parseIntOption('1.5', '--n'), /must be an integer/);
  assert.throws(() => parseIntOption('12abc', '--n'), /must be an integer/);
  assert.throws(() => parseIntOption(undefined, '--n'), /--n is required/);
});

test('parseFloatOption: accepts decimals and exponents, rejects NaN and out of range', () => {
  assert.equal(parseFloatOption('0.7', '--t', { min: 0, max: 2 }), 0.7);
  assert.equal(parseFloatOption('1e-3', '--t'), 0.001);
  assert.throws(() => parseFloatOption('abc', '--t'), /--t must be a number/);
  assert.throws(() => parseFloatOption('', '--t'), /must be a number/);
  assert.throws(() => parseFloatOption('3', '--t', { min: 0, max: 2 }), /in 0\.\.2, got "3"/);
  assert.throws(() => parseFloatOption('-1', '--t', { min: 0 }), />= 0/);
});

test('parseIdList and wantsHelp', () => {
  assert.deepEqual(parseIdList('5, 17,33', '--prompt-ids'), [5, 17, 33]);
  assert.throws(() => parseIdList('5,,6', '--prompt-ids'), UsageError);
  assert.throws(() => parseIdList('-1', '--prompt-ids'), UsageError);
  assert.equal(wantsHelp(['x', '--help']), true);
  assert.equal(wantsHelp(['-h']), true);
  assert.equal(wantsHelp(['--', '--help']), false, 'after -- it is a positional');
});

test('parseCommandArgs: positional counts and strict options', () => {
  const r = parseCommandArgs(['a', '--json'], { json: { type: 'boolean' } }, { min: 1, max: 1 });
  assert.deepEqual(r.positionals, ['a']);
  assert.equal(r.values.json, true);
  assert.throws(() => parseCommandArgs(['a', 'b'], {}, { min: 1, max: 1 }), /unexpected argument "b"/);
  assert.throws(() => parseCommandArgs([], {}, { min: 1, max: 1, names: '<dir>' }), /missing argument <dir>/);
  assert.throws(() => parseCommandArgs(['--x'], {}), UsageError);
});

test('formatBytes and formatCount', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(10 * 1024 * 1024 + 1), '10.0 MiB');
  assert.equal(formatCount(5205248), '5.21M');
  assert.equal(formatCount(999), '999');
});
