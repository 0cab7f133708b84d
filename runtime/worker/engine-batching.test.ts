// Real runner through the worker: batched greedy equals one-at-a-time and the reference, chunked prefill included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startEngine, type EngineClient } from './engine-client.js';
import type { GenerationEvent, GenerationRequest } from './engine-api.js';
import { DEFAULT_SAMPLING, type SamplingParams } from '../generation/sampling-params.js';

const FIXTURE = new URL('../../../test/fixtures/llama-gqa/', import.meta.url).pathname;
const reference = JSON.parse(readFileSync(`${FIXTURE}reference.json`, 'utf8')) as { prompt_ids: number[]; greedy_ids: number[] };

function req(reqId: string, promptIds: number[], maxTokens: number, sampling: Partial<SamplingParams> = {}): GenerationRequest {
  return {
    reqId,
    promptIds,
    maxTokens,
    sampling: { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map(), ...sampling },
    stop: [],
    stopTokenIds: [],
    deadlineMs: null,
  };
}

function run(engine: EngineClient, r: GenerationRequest): Promise<{ ids: number[]; done: Extract<GenerationEvent, { type: 'done' }> }> {
  return new Promise((resolve) => {
    const ids: number[] = [];
    engine.submit(r, (e) => (e.type === 'delta' ? ids.push(...e.tokenIds) : resolve({ ids, done: e })));
  });
}

// Prompts of different lengths cut from the reference prompt, so prefills and decodes mix.
const prompts = [64, 5, 17, 1, 40, 9].map((n, i) => reference.prompt_ids.slice(i, i + n));

test('fixture model: batched greedy equals one-at-a-time, and the reference', async () => {
  // maxStepTokens 24 makes the 64- and 40-token prompts prefill in chunks beside running decodes.
  const engine = await startEngine({ modelPath: FIXTURE, maxBatch: 4, maxQueue: 8, maxStepTokens: 24, threads: 1 });
  try {
    const sequential: number[][] = [];
    for (const [i, p] of prompts.entries()) sequential.push((await run(engine, req(`s${i}`, p, 12))).ids);
    assert.deepEqual(sequential[0], reference.greedy_ids.slice(0, 12), 'chunked prefill matches the PyTorch reference');
    const batched = await Promise.all(prompts.map((p, i) => run(engine, req(`b${i}`, p, 12))));
    batched.forEach((r, i) => {
      assert.deepEqual(r.ids, sequential[i], `prompt ${i}`);
      assert.deepEqual(r.done.usage, { promptTokens: prompts[i].length, completionTokens: 12 });
      assert.equal(r.done.finishReason, 'length');
    });
    // Seeded sampling is reproducible across batch compositions too.
    const sampled = { temperature: 0.9, topK: 50, seed: 7 };
    const alone = (await run(engine, req('x0', prompts[1], 10, sampled))).ids;
    const together = await Promise.all([run(engine, req('x1', prompts[1], 10, sampled)), run(engine, req('x2', prompts[2], 10, sampled))]);
    assert.deepEqual(together[0].ids, alone);
  } finally {
    await engine.close();
  }
});
