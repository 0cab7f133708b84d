// Greedy generation through the whole engine (worker, scheduler, sampler) equals the PyTorch reference's.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_SAMPLING } from '../runtime/generation/sampling-params.js';
import type { GenerationEvent, GenerationRequest } from '../runtime/worker/engine-api.js';
import { startEngine, type EngineClient } from '../runtime/worker/engine-client.js';
import { fixtureUnusable, listFixtureNames, readFixture } from './helpers/reference-fixtures.js';

interface Outcome {
  tokenIds: number[];
  done: Extract<GenerationEvent, { type: 'done' }>;
}

function generate(engine: EngineClient, reqId: string, promptIds: number[], maxTokens: number): Promise<Outcome> {
  const request: GenerationRequest = {
    reqId,
    promptIds,
    maxTokens,
    sampling: { ...DEFAULT_SAMPLING, temperature: 0, seed: 1 },
    stop: [],
    stopTokenIds: [],
    deadlineMs: null,
  };
  return new Promise((resolve) => {
    const tokenIds: number[] = [];
    engine.submit(request, (event) => {
      if (event.type === 'delta') tokenIds.push(...event.tokenIds);
      else resolve({ tokenIds, done: event });
    });
  });
}

/** The reference ids up to the first id the engine stops on by itself (EOS), which may or may not be reported. */
function assertGreedy(outcome: Outcome, expected: number[], eosIds: number[], label: string): void {
  assert.notEqual(outcome.done.finishReason, 'error', `${label}: ${outcome.done.error?.message}`);
  const eosAt = expected.findIndex((id) => eosIds.includes(id));
  if (eosAt < 0) {
    assert.deepEqual(outcome.tokenIds, expected, label);
    assert.equal(outcome.done.finishReason, 'length', label);
    assert.equal(outcome.done.usage.completionTokens, expected.length, label);
  } else {
    assert.deepEqual(outcome.tokenIds.slice(0, eosAt), expected.slice(0, eosAt), label);
    assert.ok(outcome.tokenIds.length <= eosAt + 1, `${label}: generation went on past EOS`);
    assert.equal(outcome.done.finishReason, 'stop', label);
  }
}

describe('greedy generation through the engine worker matches the PyTorch reference', () => {
  for (const name of listFixtureNames()) {
    const fixture = readFixture(name);
    // A stale default fixture fails once, in the parity suite.
    const skip = fixtureUnusable(fixture)?.reason ?? false;
    // Default step budget, then a 20-token one that prefills the 64-token prompts in chunks
    // while the other request decodes.
    for (const maxStepTokens of [undefined, 20]) {
      it(`${name}: two concurrent requests (prompt, and prompt + 10 reference tokens), maxStepTokens ${maxStepTokens ?? 'default'}`, { skip }, async () => {
        const engine = await startEngine({ modelPath: fixture.modelDir, maxBatch: 4, maxQueue: 4, threads: 1, maxStepTokens });
        try {
          const split = 10;
          const [whole, tail] = await Promise.all([
            generate(engine, 'whole', fixture.promptIds, fixture.greedyIds.length),
            generate(engine, 'tail', [...fixture.promptIds, ...fixture.greedyIds.slice(0, split)], fixture.greedyIds.length - split),
          ]);
          assertGreedy(whole, fixture.greedyIds, engine.eosTokenIds, `${name} whole`);
          assertGreedy(tail, fixture.greedyIds.slice(split), engine.eosTokenIds, `${name} tail`);
          assert.equal(whole.done.usage.promptTokens, fixture.promptIds.length);
        } finally {
          await engine.close();
        }
      });
    }
  }
});
