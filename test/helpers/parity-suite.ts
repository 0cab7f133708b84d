// The engine-vs-PyTorch parity suite, shared by every backend (test/parity*.test.ts pick the backend).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createRunner } from '../../runtime/engine/create-runner.js';
import type { ModelRunner } from '../../runtime/engine/runner-types.js';
import { loadModel } from '../../runtime/model/load-model.js';
import {
  argmaxRow,
  compareRows,
  fixtureUnusable,
  listFixtureNames,
  readFixture,
  type ReferenceFixture,
} from './reference-fixtures.js';

export type ParityBackend = 'cpu' | 'webgpu';

/** Batched and solo runs of the same tokens may use different kernels; they must still agree this closely. */
const BATCH_VS_SOLO_TOLERANCE = 1e-5;
const MAX_SEQ_LEN = 128;

/** Where a fixture's model is loaded from: its HF folder unless a suite maps it (e.g. to an .ewm container). */
export type ModelPathFor = (fixture: ReferenceFixture) => string | Promise<string>;

interface SuiteContext {
  backend: ParityBackend;
  modelPathFor: ModelPathFor;
}

async function withRunner(
  fixture: ReferenceFixture,
  ctx: SuiteContext,
  body: (runner: ModelRunner) => Promise<void>,
): Promise<void> {
  const backend = ctx.backend;
  const model = await loadModel(await ctx.modelPathFor(fixture));
  assert.equal(model.config.vocabSize, fixture.vocabSize, 'vocab size of the loaded model');
  const runner = await createRunner(model.weights, { backend, maxSeqLen: MAX_SEQ_LEN });
  try {
    await body(runner);
  } finally {
    await runner.dispose();
    model.weights.close();
  }
}

/** Receives a measured figure (test diagnostics: they show in the test report). */
type Report = (line: string) => void;

function assertRowsClose(
  label: string,
  actual: Float32Array,
  reference: Float32Array,
  refRowStart: number,
  numRows: number,
  width: number,
  tolerance: number,
): void {
  const cmp = compareRows(actual, reference, refRowStart, numRows, width);
  assert.ok(
    cmp.worstRelative <= tolerance,
    `${label}: max|Δ|/max|ref| = ${cmp.worstRelative.toExponential(3)} > ${tolerance}; ${cmp.detail}`,
  );
}

/** Prompt logits at all 64 positions, then 32 greedy steps through the KV cache, against the reference. */
async function checkPromptAndGreedy(fixture: ReferenceFixture, ctx: SuiteContext, report: Report): Promise<void> {
  const vocab = fixture.vocabSize;
  const numPrompt = fixture.promptIds.length;
  await withRunner(fixture, ctx, async (runner) => {
    runner.createSequence(7);
    const [promptLogits] = await runner.step([{ seqId: 7, tokenIds: fixture.promptIds, allLogits: true }]);
    const promptCmp = compareRows(promptLogits, fixture.promptLogits, 0, numPrompt, vocab);
    report(`prompt logits: worst max|Δ|/max|ref| ${promptCmp.worstRelative.toExponential(2)} (${promptCmp.detail})`);
    assertRowsClose('prompt logits', promptLogits, fixture.promptLogits, 0, numPrompt, vocab, fixture.tolerance);
    assert.equal(runner.sequenceLength(7), numPrompt);

    const generated: number[] = [];
    let last = promptLogits.subarray((numPrompt - 1) * vocab);
    let worstDecode = { worstRelative: 0, worstRow: 0, detail: '' };
    for (let j = 0; j < fixture.greedyIds.length; j++) {
      const token = argmaxRow(last, 0, vocab);
      generated.push(token);
      if (j + 1 === fixture.greedyIds.length) break;
      const [logits] = await runner.step([{ seqId: 7, tokenIds: [token] }]);
      // Once the greedy path left the reference's, its logits rows no longer apply.
      if (token === fixture.greedyIds[j]) {
        const cmp = compareRows(logits, fixture.decodeLogits, j + 1, 1, vocab);
        if (cmp.worstRelative > worstDecode.worstRelative) worstDecode = cmp;
      }
      last = logits;
    }
    report(`decode-step logits: worst max|Δ|/max|ref| ${worstDecode.worstRelative.toExponential(2)}`);
    assert.deepEqual(generated, fixture.greedyIds, 'greedy continuation');
    assert.ok(
      worstDecode.worstRelative <= fixture.tolerance,
      `decode-step logits: max|Δ|/max|ref| = ${worstDecode.worstRelative.toExponential(3)}; ${worstDecode.detail}`,
    );
    assert.equal(runner.sequenceLength(7), numPrompt + fixture.greedyIds.length - 1);
  });
}

/**
 * Continuous-batching shapes in one step: a long prefill, a short prefill, a one-token prompt,
 * then decode + chunked prefill + a new sequence together. Every row is checked against the
 * reference (a prefix of the prompt has the same logits as the full prompt, by causality) and
 * one batched entry against the same tokens run solo.
 */
async function checkMixedBatch(fixture: ReferenceFixture, ctx: SuiteContext): Promise<void> {
  const vocab = fixture.vocabSize;
  const p = fixture.promptIds;
  const tol = fixture.tolerance;
  const ref = fixture.promptLogits;
  await withRunner(fixture, ctx, async (runner) => {
    for (const id of [10, 11, 12, 13, 14]) runner.createSequence(id);

    const step1 = await runner.step([
      { seqId: 10, tokenIds: p, allLogits: true },
      { seqId: 11, tokenIds: p.slice(0, 17), allLogits: true },
      { seqId: 12, tokenIds: p.slice(0, 1) },
    ]);
    assert.equal(step1.length, 3);
    assertRowsClose('batch step 1, seq A (64-token prefill)', step1[0], ref, 0, 64, vocab, tol);
    assertRowsClose('batch step 1, seq B (17-token prefill)', step1[1], ref, 0, 17, vocab, tol);
    assertRowsClose('batch step 1, seq C (1-token prompt, last logits only)', step1[2], ref, 0, 1, vocab, tol);

    const [solo] = await runner.step([{ seqId: 14, tokenIds: p.slice(0, 17), allLogits: true }]);
    assertRowsClose('seq B batched vs the same 17 tokens solo', step1[1], solo, 0, 17, vocab, BATCH_VS_SOLO_TOLERANCE);

    // Order differs from step 1 on purpose: the runner must key KV caches by seqId, not position.
    const step2 = await runner.step([
      { seqId: 11, tokenIds: [p[17]] },
      { seqId: 13, tokenIds: p.slice(0, 5) },
      { seqId: 10, tokenIds: [fixture.greedyIds[0]] },
      { seqId: 12, tokenIds: p.slice(1, 40), allLogits: true },
    ]);
    assertRowsClose('batch step 2, seq B decode at position 17', step2[0], ref, 17, 1, vocab, tol);
    assertRowsClose('batch step 2, seq D (new, 5-token prefill, last only)', step2[1], ref, 4, 1, vocab, tol);
    assertRowsClose('batch step 2, seq A decode after the prompt', step2[2], fixture.decodeLogits, 1, 1, vocab, tol);
    assertRowsClose('batch step 2, seq C chunked prefill 1..39', step2[3], ref, 1, 39, vocab, tol);
    assert.deepEqual(
      [10, 11, 12, 13].map((id) => runner.sequenceLength(id)),
      [65, 18, 40, 5],
      'sequence lengths after two steps',
    );

    // A freed sequence must not disturb the others.
    runner.freeSequence(10);
    const step3 = await runner.step([
      { seqId: 13, tokenIds: p.slice(5, 9), allLogits: true },
      { seqId: 12, tokenIds: [p[40]] },
    ]);
    assertRowsClose('batch step 3, seq D chunk 5..8', step3[0], ref, 5, 4, vocab, tol);
    assertRowsClose('batch step 3, seq C decode at position 40', step3[1], ref, 40, 1, vocab, tol);
  });
}

/** A sequence created with a subset of the blocks (depth switching) against the reference run of that subset. */
async function checkDepth(fixture: ReferenceFixture, ctx: SuiteContext, report: Report): Promise<void> {
  const depth = fixture.depth;
  assert.ok(depth, 'the fixture has no depth reference; regenerate it with make_fixtures.py');
  const vocab = fixture.vocabSize;
  const n = fixture.promptIds.length;
  await withRunner(fixture, ctx, async (runner) => {
    runner.createSequence(20, { layerIndices: depth.layerIndices });
    runner.createSequence(21);
    // Full-depth and reduced-depth sequences side by side in one step.
    const [reduced, full] = await runner.step([
      { seqId: 20, tokenIds: fixture.promptIds, allLogits: true },
      { seqId: 21, tokenIds: fixture.promptIds, allLogits: true },
    ]);
    const cmp = compareRows(reduced, depth.promptLogits, 0, n, vocab);
    report(`layers [${depth.layerIndices.join(',')}]: worst max|Δ|/max|ref| ${cmp.worstRelative.toExponential(2)}`);
    assertRowsClose(`prompt logits with layers [${depth.layerIndices.join(',')}]`, reduced, depth.promptLogits, 0, n, vocab, fixture.tolerance);
    assertRowsClose('full-depth sequence in the same step', full, fixture.promptLogits, 0, n, vocab, fixture.tolerance);
  });
}

/** Registers the parity tests for `backend`. `skip` (a reason) marks them all skipped. */
export function defineParitySuite(
  backend: ParityBackend,
  options: { skip?: string | false; modelPathFor?: ModelPathFor; label?: string } = {},
): void {
  const names = listFixtureNames();
  const ctx: SuiteContext = { backend, modelPathFor: options.modelPathFor ?? ((fixture) => fixture.modelDir) };
  const label = options.label ?? backend;
  describe(`parity with the PyTorch reference (${label})`, { skip: options.skip ?? false }, () => {
    it('has the generated fixtures', () => {
      for (const variant of ['llama-gqa', 'llama-mha-tied', 'qwen2-bias', 'llama3-rope', 'mistral', 'llama-bias-linear']) {
        assert.ok(names.includes(variant), `test/fixtures/${variant} is missing`);
      }
    });
    for (const name of names) {
      const fixture = readFixture(name);
      const unusable = fixtureUnusable(fixture);
      if (unusable?.kind === 'stale') {
        it(`${name}: the fixture matches its model`, () => assert.fail(unusable.reason));
        continue;
      }
      describe(`${name}: ${fixture.description}`, { skip: unusable?.reason ?? false }, () => {
        it('prompt logits within tolerance at every position, greedy 32 tokens identical', async (t) => {
          await checkPromptAndGreedy(fixture, ctx, (line) => t.diagnostic(line));
        });
        it('mixed prefill/decode batch matches the reference and the solo run', async () => {
          await checkMixedBatch(fixture, ctx);
        });
        it('depth switching (middle block skipped) matches the reference run of those blocks', async (t) => {
          await checkDepth(fixture, ctx, (line) => t.diagnostic(line));
        });
      });
    }
  });
}
