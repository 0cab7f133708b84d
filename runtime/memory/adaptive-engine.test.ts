// Adaptive serving through the real engine worker: choices on done events, cache-invariant output, budget changes, refusals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../container/ewm-writer.js';
import { writeCalibration } from '../calibration/ewm-calibration-store.js';
import { startEngine, type EngineClient } from '../worker/engine-client.js';
import type { GenerationEvent, GenerationRequest } from '../worker/engine-api.js';
import { DEFAULT_SAMPLING } from '../generation/sampling-params.js';
import type { AdaptiveWish } from './governor.js';

type Done = Extract<GenerationEvent, { type: 'done' }>;
const root = new URL('../../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'adaptive-engine-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ewm = join(work, 'default.ewm');
convertToEwm(join(root, 'models/default'), ewm);
// A fixed ranking and table (calibrate itself is tested in bin/commands/calibrate.test.ts).
writeCalibration(ewm, {
  layerImportance: { method: 'block-influence', scores: [0.1, 0.12, 0.16, 0.17, 0.13, 0.14], ranking: [3, 2, 5, 4, 1, 0], numTokens: 1 },
  qualityTables: { numTokens: 1, windowTokens: 1, points: [6, 5, 4, 3, 2, 1].map((depth) => ({ depth, precision: 'bf16', perplexity: 10 + (6 - depth) })) },
});

function req(reqId: string, adaptive?: AdaptiveWish, maxTokens = 8): GenerationRequest {
  return { reqId, promptIds: [5, 17, 33, 90, 12], maxTokens, sampling: { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map() }, stop: [], stopTokenIds: [], deadlineMs: null, adaptive };
}

function run(engine: EngineClient, r: GenerationRequest): Promise<{ ids: number[]; done: Done }> {
  return new Promise((resolve) => {
    const ids: number[] = [];
    engine.submit(r, (e) => (e.type === 'delta' ? ids.push(...e.tokenIds) : resolve({ ids, done: e })));
  });
}

test('full-depth output is the same with the block cache, without it, and without adaptive serving', async () => {
  const plain = await startEngine({ modelPath: ewm, maxBatch: 4, maxQueue: 4 });
  const roomy = await startEngine({ modelPath: ewm, maxBatch: 4, maxQueue: 4, adaptive: { budgetBytes: 512 * 1024 ** 2 } });
  const tight = await startEngine({ modelPath: ewm, maxBatch: 4, maxQueue: 4, adaptive: { budgetBytes: 2 * 1024 ** 2 } });
  try {
    const want = await run(plain, req('p'));
    assert.equal(want.done.adaptive, undefined);
    for (const [name, engine] of [['roomy', roomy], ['tight', tight]] as const) {
      const got = await run(engine, req(name, { quality: 'exact' }));
      assert.deepEqual(got.ids, want.ids, name);
      assert.deepEqual({ ...got.done.adaptive, why: '' }, { depth: 6, numLayers: 6, precision: 'bf16', why: '' });
    }
    const roomyState = (await roomy.adaptiveState())!;
    assert.equal(roomyState.cache!.entries, 6); // every block stays decoded
    assert.ok(roomyState.cache!.hits > 0);
    const tightState = (await tight.adaptiveState())!;
    assert.equal(tightState.cache!.entries, 0); // 2 MiB holds no 2.6 MiB block: decoded just in time
    assert.equal(tightState.kvReservedBytes, 0); // released at done
  } finally {
    await Promise.all([plain.close(), roomy.close(), tight.close()]);
  }
});

test('the governor lowers depth under a small budget, refuses unmeetable wishes, and a budget cut evicts at once', async () => {
  const MiB = 1024 ** 2;
  const engine = await startEngine({ modelPath: ewm, maxBatch: 8, maxQueue: 8, adaptive: { budgetBytes: 9 * MiB, defaultQuality: 'fast' } });
  try {
    // 9 MiB: three 2.6 MiB blocks besides a small KV cache → depth 3 for 'fast' (floor 1).
    const fast = await run(engine, req('f'));
    assert.equal(fast.done.finishReason, 'length');
    assert.equal(fast.done.adaptive?.depth, 3);
    assert.match(fast.done.adaptive!.why, /memory/);
    const exact = await run(engine, req('e', { quality: 'exact' }));
    assert.equal(exact.done.adaptive?.depth, 6);
    const before = (await engine.adaptiveState())!;
    assert.ok(before.cache!.entries >= 3, JSON.stringify(before.cache));
    const after = (await engine.adaptiveState({ bytes: 2_936_000 }))!;
    assert.equal(after.budgetBytes, 2_936_000);
    assert.equal(after.cache!.entries, 1);
    assert.ok(after.cache!.evictions >= before.cache!.entries - 1);
    // A KV cache for 505 tokens at full depth (6 blocks × 512 tokens × 512 B = 1.5 MiB) cannot fit in 1 MiB.
    assert.equal((await engine.adaptiveState({ bytes: MiB }))!.cache!.entries, 0);
    const refused = await run(engine, { ...req('r', { quality: 'exact' }, 500) });
    assert.equal(refused.done.finishReason, 'error');
    assert.equal(refused.done.error?.kind, 'budget');
    assert.match(refused.done.error!.message, /memory budget cannot serve this request/);
    const bad = await run(engine, req('b', { precision: 'e5m2' }));
    assert.equal(bad.done.error?.kind, 'invalid_request');
    assert.match(bad.done.error!.message, /bf16, e8m3, e8m1/);
    // Eight concurrent requests at the cut budget all succeed.
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => run(engine, req(`c${i}`))));
    assert.ok(all.every((r) => r.done.finishReason === 'length' && r.ids.length === 8));
  } finally {
    await engine.close();
  }
});

test('lowering the budget while requests run evicts at once and every running request still finishes', async () => {
  const MiB = 1024 ** 2;
  const engine = await startEngine({ modelPath: ewm, maxBatch: 4, maxQueue: 4, adaptive: { budgetBytes: 32 * MiB } });
  try {
    let tokens = 0;
    const runs = Array.from({ length: 4 }, (_, i) =>
      new Promise<Done>((resolve) => engine.submit(req(`long${i}`, { quality: 'exact' }, 80), (e) => (e.type === 'delta' ? (tokens += e.tokenIds.length) : resolve(e)))),
    );
    while (tokens < 20) await new Promise((r) => setTimeout(r, 5)); // mid-generation
    const full = (await engine.adaptiveState())!;
    assert.equal(full.cache!.entries, 6);
    const cut = (await engine.adaptiveState({ bytes: 2 * MiB }))!;
    assert.equal(cut.cache!.entries, 0); // evicted before the answer came back
    assert.ok(tokens < 4 * 80, 'the cut landed while requests were running');
    const done = await Promise.all(runs);
    assert.deepEqual(done.map((d) => [d.finishReason, d.usage.completionTokens, d.adaptive?.depth]), done.map(() => ['length', 80, 6]));
    const after = (await engine.adaptiveState())!;
    assert.equal(after.kvReservedBytes, 0);
    assert.ok(after.cache!.misses > full.cache!.misses, 'blocks decoded just in time after the cut');
  } finally {
    await engine.close();
  }
});

test('the CPU path serves every rung; without a host block cache (the webgpu backend, which decodes rungs on the GPU) too; a rung that does not exist is a 400', async () => {
  const { loadModel } = await import('../model/load-model.js');
  const { isEdgewiseError } = await import('../errors.js');
  const { AdaptiveEngine } = await import('./adaptive-engine.js');
  const queue = { running: 0, waiting: 0, maxBatch: 4 };
  const cpu = new AdaptiveEngine(await loadModel(ewm), { budgetBytes: 64 * 1024 ** 2, maxSeqLen: 128, refreshMs: 60_000 });
  assert.deepEqual(cpu.state().precisions, ['bf16', 'e8m3', 'e8m1']);
  cpu.admit(req('a', { precision: 'e8m3' }), queue);
  assert.deepEqual(cpu.sequenceOptions('a'), { layerIndices: undefined, precision: 'e8m3' });
  assert.deepEqual(cpu.state().precisionCounts, { e8m3: 1 });
  const gpu = new AdaptiveEngine(await loadModel(ewm), { budgetBytes: 64 * 1024 ** 2, maxSeqLen: 128, cacheBlocks: false, refreshMs: 60_000 });
  assert.deepEqual(gpu.state().precisions, ['bf16', 'e8m3', 'e8m1']);
  gpu.admit(req('g', { precision: 'e8m1' }), queue);
  assert.deepEqual(gpu.sequenceOptions('g'), { layerIndices: undefined, precision: 'e8m1' });
  assert.throws(() => gpu.admit(req('x', { precision: 'e4m3' }), queue), (e: unknown) => isEdgewiseError(e) && e.kind === 'invalid_request' && /serves: bf16, e8m3, e8m1$/.test(e.message));
  gpu.admit(req('h', { precision: 'bf16' }), queue);
  assert.equal(gpu.sequenceOptions('h')?.precision, 'bf16');
  // A model that is not an .ewm container has no rungs on any backend.
  const plain = new AdaptiveEngine({ ...(await loadModel(ewm)), format: 'hf-folder' } as never, { budgetBytes: 64 * 1024 ** 2, maxSeqLen: 128, cacheBlocks: false, refreshMs: 60_000 });
  assert.deepEqual(plain.state().precisions, ['bf16']);
});
