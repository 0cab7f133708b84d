// Scheduler with the bundled model's real byte-level BPE tokenizer: streamed text, UTF-8 and stop strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Scheduler } from './scheduler.js';
import { EngineCore } from './engine-core.js';
import { FakeRunner, type LogitsScript } from './fake-runner.js';
import { loadTokenizerAndTemplate } from '../model/load-model.js';
import { DEFAULT_SAMPLING } from '../generation/sampling-params.js';
import type { GenerationEvent } from '../worker/engine-api.js';

const MODEL = new URL('../../../models/default/', import.meta.url).pathname;

/** A runner that "generates" `ids` one after another after a 1-token prompt. */
function scripted(ids: number[]): LogitsScript {
  return (history, vocab) => {
    const l = new Float32Array(vocab).fill(-10);
    l[ids[Math.min(history.length - 1, ids.length - 1)]] = 10;
    return l;
  };
}

async function generate(text: string, stop: string[], maxTokens?: number) {
  const { tokenizer } = await loadTokenizerAndTemplate(MODEL);
  const ids = tokenizer!.encode(text, { addSpecialTokens: false });
  const runner = new FakeRunner(tokenizer!.vocabSize, { maxSeqLen: 256, script: scripted(ids) });
  const scheduler = new Scheduler({ maxBatch: 2, maxQueue: 0, maxContext: 256, vocabSize: tokenizer!.vocabSize, eosTokenIds: [], detokenizer: tokenizer });
  const core = new EngineCore(runner, scheduler);
  scheduler.submit({ reqId: 'r', promptIds: [1], maxTokens: maxTokens ?? ids.length, sampling: { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map() }, stop, stopTokenIds: [], deadlineMs: null });
  const pieces: string[] = [];
  let done: Extract<GenerationEvent, { type: 'done' }> | null = null;
  while (scheduler.hasWork()) {
    for (const e of await core.step()) {
      pieces.push(e.text);
      if (e.type === 'done') done = e;
    }
  }
  return { ids, pieces, text: pieces.join(''), done: done! };
}

const skip = !existsSync(`${MODEL}tokenizer.json`);

test('streamed text concatenates to the decoded text, multi-byte characters never split', { skip }, async () => {
  const text = 'Café au lait, naïve façade — 東京 and ☕ ok.';
  const r = await generate(text, []);
  assert.ok(r.ids.length > 10, 'the text spans many tokens');
  assert.equal(r.text, text);
  for (const piece of r.pieces) assert.ok(!piece.includes('\ufffd'), `a piece holds half a character: ${JSON.stringify(r.pieces)}`);
  assert.equal(r.done.finishReason, 'length');
  assert.equal(r.done.usage.completionTokens, r.ids.length);
});

test('a stop string spread over several BPE tokens truncates the text and never leaks', { skip }, async () => {
  const r = await generate('The cat sat on the mat. THE END of the story.', ['. THE END']);
  assert.equal(r.text, 'The cat sat on the mat');
  assert.equal(r.done.finishReason, 'stop');
  assert.ok(r.done.usage.completionTokens < r.ids.length, 'generation stopped early');
  assert.ok(!r.pieces.some((p) => p.includes('THE')));
});
