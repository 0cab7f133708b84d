// Prompt sizes follow the asked distribution; plot ticks are round numbers covering the range.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPrompts } from './prompts.js';
import { linePlot, niceTicks } from './svg-plot.js';

test('prompt word counts follow Normal(mean, sd) / tokensPerWord, reproducibly', () => {
  const opts = { count: 2000, meanTokens: 60, stddevTokens: 12, tokensPerWord: 1.5, seed: 3 };
  const words = buildPrompts(opts).map((p) => p.split(' ').length);
  const mean = words.reduce((a, b) => a + b, 0) / words.length;
  const sd = Math.sqrt(words.reduce((a, b) => a + (b - mean) ** 2, 0) / words.length);
  assert.ok(Math.abs(mean - 40) < 1, `mean ${mean} words ~ 60/1.5`);
  assert.ok(Math.abs(sd - 8) < 1, `sd ${sd} words ~ 12/1.5`);
  assert.deepEqual(buildPrompts({ ...opts, count: 5 }), buildPrompts({ ...opts, count: 5 }));
  assert.notDeepEqual(buildPrompts({ ...opts, count: 5 }), buildPrompts({ ...opts, count: 5, seed: 4 }));
  assert.ok(buildPrompts({ ...opts, meanTokens: 1, stddevTokens: 5 }).every((p) => p.length > 0), 'never empty');
});

test('ticks are 1/2/5 steps covering the range; plots escape text', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97), [20, 40, 60, 80]);
  const svg = linePlot([{ name: 'a<b', points: [[0, 1], [2, 3]] }], { title: 'T & U', xLabel: 'x', yLabel: 'y' });
  assert.match(svg, /T &amp; U/);
  assert.match(svg, /a&lt;b/);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/);
});
