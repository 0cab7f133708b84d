// Checks the monolithic baseline graph against the float64 reference, so engine-bench compares against a correct model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandomWeights, tinyConfig } from '../runtime/engine/random-weights.js';
import { referenceForward, relativeMaxError } from '../runtime/engine/reference-forward.js';
import { randomTokens } from '../runtime/engine/runner-scenarios.js';
import { MonolithicModel } from './engine-monolithic.js';

test('the monolithic graph gives the reference logits at prefill and decode', async () => {
  const config = tinyConfig({ tieWordEmbeddings: true, attentionBias: true });
  const weights = createRandomWeights(config, 23);
  const tokens = randomTokens(10, config.vocabSize, 4);
  const ref = await referenceForward(weights, tokens);
  const V = config.vocabSize;
  const model = await MonolithicModel.create(weights, 32, 1);
  const rows = [await model.step(tokens.slice(0, 7)), await model.step([tokens[7]]), await model.step(tokens.slice(8))];
  [6, 7, 9].forEach((pos, i) => {
    const err = relativeMaxError(rows[i], ref.subarray(pos * V, (pos + 1) * V));
    assert.ok(err <= 1e-4, `position ${pos}: rel err ${err}`);
  });
  model.reset();
  const again = await model.step(tokens.slice(0, 7));
  assert.ok(relativeMaxError(again, ref.subarray(6 * V, 7 * V)) <= 1e-4, 'reset starts a fresh sequence');
  await model.dispose();
});
