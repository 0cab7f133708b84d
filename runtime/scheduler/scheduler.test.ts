// Scheduler + EngineCore against a fake runner: batching equivalence, limits, cancel, stops, deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { EngineCore } from './engine-core.js';
import { FakeRunner, hashedLogits, type LogitsScript } from './fake-runner.js';
import type { DetokenizerLike, SchedulerOptions } from './scheduler-types.js';
import type { GenerationEvent, GenerationRequest } from '../worker/engine-api.js';
import { DEFAULT_SAMPLING, type SamplingParams } from '../generation/sampling-params.js';
import { EdgewiseError, InvalidRequestError } from '../errors.js';
import { argmax } from '../generation/logits-filters.js';

const VOCAB = 40;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz .,!?0123456789XYZ';
const detok: DetokenizerLike = {
  tokenText: (id) => ALPHABET[id],
  createStreamDecoder: () => ({ push: (id) => ALPHABET[id], flush: () => '' }),
};

function req(reqId: string, promptIds: number[], over: Partial<GenerationRequest> = {}, sampling: Partial<SamplingParams> = {}): GenerationRequest {
  return {
    reqId,
    promptIds,
    maxTokens: 12,
    sampling: { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map(), ...sampling },
    stop: [],
    stopTokenIds: [],
    deadlineMs: null,
    ...over,
  };
}

function setup(opts: Partial<SchedulerOptions> = {}, runnerOpts: { maxSeqLen?: number; script?: LogitsScript } = {}) {
  const runner = new FakeRunner(VOCAB, { maxSeqLen: opts.maxContext ?? 64, ...runnerOpts });
  const scheduler = new Scheduler({ maxBatch: 4, maxQueue: 8, maxContext: 64, vocabSize: VOCAB, eosTokenIds: [], detokenizer: detok, ...opts });
  return { runner, scheduler, core: new EngineCore(runner, scheduler) };
}

interface Outcome {
  ids: number[];
  text: string;
  done: Extract<GenerationEvent, { type: 'done' }>;
}

/** Steps until idle; `onStep(i)` may submit or cancel between steps. */
async function drive(core: EngineCore, onStep: (i: number) => void = () => {}): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (let i = 0; i < 1000; i++) {
    onStep(i);
    if (!core.scheduler.hasWork()) break;
    for (const e of await core.step()) {
      const o = out.get(e.reqId) ?? { ids: [], text: '', done: undefined as never };
      out.set(e.reqId, o);
      if (e.type === 'delta') {
        assert.equal(o.done, undefined, 'delta after done');
        o.ids.push(...e.tokenIds);
        o.text += e.text;
      } else {
        o.text += e.text;
        o.done = e;
      }
    }
  }
  assert.equal(core.scheduler.hasWork(), false, 'did not finish');
  return out;
}

/** Independent reference: greedy decoding straight from the script, no scheduler. */
function referenceGreedy(prompt: number[], maxTokens: number, script: LogitsScript = hashedLogits): number[] {
  const history = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < maxTokens; i++) {
    const id = argmax(script(history, VOCAB));
    out.push(id);
    history.push(id);
  }
  return out;
}

const prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16, 17], [18], [19, 20, 21], [22, 23, 24, 25, 26]];

test('one request: greedy ids match the reference, exact usage, text and length finish', async () => {
  const { core, runner } = setup();
  core.scheduler.submit(req('a', [1, 2, 3], { maxTokens: 10 }));
  const o = (await drive(core)).get('a')!;
  const expected = referenceGreedy([1, 2, 3], 10);
  assert.deepEqual(o.ids, expected);
  assert.equal(o.text, expected.map((id) => ALPHABET[id]).join(''));
  assert.equal(o.done.finishReason, 'length');
  assert.deepEqual(o.done.usage, { promptTokens: 3, completionTokens: 10 });
  assert.ok(o.done.timings.ttftMs >= 0 && o.done.timings.totalMs >= o.done.timings.ttftMs);
  assert.equal(runner.liveSequences, 0, 'KV freed');
});

test('continuous batching: batched greedy equals one-at-a-time, with late joins and mixed steps', async () => {
  const sequential = new Map<string, number[]>();
  for (const [i, p] of prompts.entries()) {
    const { core } = setup({ maxBatch: 1 });
    core.scheduler.submit(req(`r${i}`, p, { maxTokens: 5 + i }));
    sequential.set(`r${i}`, (await drive(core)).get(`r${i}`)!.ids);
    assert.deepEqual(sequential.get(`r${i}`), referenceGreedy(p, 5 + i));
  }
  const { core, runner } = setup({ maxBatch: 3 });
  const batched = await drive(core, (step) => {
    // Half the requests arrive up front, the rest join while others are decoding.
    if (step === 0) for (let i = 0; i < 4; i++) core.scheduler.submit(req(`r${i}`, prompts[i], { maxTokens: 5 + i }));
    if (step === 3) for (let i = 4; i < 8; i++) core.scheduler.submit(req(`r${i}`, prompts[i], { maxTokens: 5 + i }));
  });
  for (const [id, ids] of sequential) {
    assert.deepEqual(batched.get(id)!.ids, ids, id);
    assert.equal(batched.get(id)!.done.usage.completionTokens, ids.length);
  }
  assert.ok(runner.steps.every((s) => s.length <= 3), 'never more than maxBatch sequences');
  assert.ok(runner.steps.some((s) => s.some(([, n]) => n > 1) && s.some(([, n]) => n === 1)), 'a prefill ran beside decodes');
  assert.equal(runner.liveSequences, 0);
});

test('seeded sampling: batched equals one-at-a-time', async () => {
  const run = async (maxBatch: number) => {
    const { core } = setup({ maxBatch });
    for (let i = 0; i < 4; i++) core.scheduler.submit(req(`s${i}`, prompts[i], { maxTokens: 8 }, { temperature: 0.9, topP: 0.9, seed: 100 + i }));
    const out = await drive(core);
    return [0, 1, 2, 3].map((i) => out.get(`s${i}`)!.ids);
  };
  const a = await run(1);
  assert.deepEqual(await run(4), a);
  assert.notDeepEqual(a[0], referenceGreedy(prompts[0], 8), 'sampling should differ from greedy somewhere');
});

test('queue limit: maxBatch + maxQueue in flight, then queue_full', () => {
  const { scheduler } = setup({ maxBatch: 2, maxQueue: 1 });
  for (let i = 0; i < 3; i++) scheduler.submit(req(`q${i}`, [1]));
  assert.throws(() => scheduler.submit(req('q3', [1])), (e: unknown) => e instanceof EdgewiseError && e.kind === 'queue_full');
  assert.deepEqual(scheduler.stats(), { running: 0, waiting: 3 });
});

test('prompt validation: too long, empty, bad ids, bad maxTokens, duplicate id', async () => {
  const { scheduler, core } = setup({ maxContext: 16 });
  const isInvalid = (e: unknown) => e instanceof InvalidRequestError;
  assert.throws(() => scheduler.submit(req('long', new Array(16).fill(1))), isInvalid);
  assert.throws(() => scheduler.submit(req('empty', [])), isInvalid);
  assert.throws(() => scheduler.submit(req('bad', [VOCAB])), isInvalid);
  assert.throws(() => scheduler.submit(req('zero', [1], { maxTokens: 0 })), isInvalid);
  scheduler.submit(req('fits', new Array(15).fill(1), { maxTokens: 10 }));
  assert.throws(() => scheduler.submit(req('fits', [1])), isInvalid);
  // 15 prompt tokens in a 16-token context: exactly one token, then 'length'.
  const o = (await drive(core)).get('fits')!;
  assert.equal(o.ids.length, 1);
  assert.equal(o.done.finishReason, 'length');
});

test('cancel frees the slot by the next step and a waiting request takes it', async () => {
  const { core, runner } = setup({ maxBatch: 1 });
  core.scheduler.submit(req('x', [1, 2], { maxTokens: 50 }));
  core.scheduler.submit(req('y', [3], { maxTokens: 3 }));
  core.scheduler.submit(req('z', [4], { maxTokens: 3 }));
  const out = await drive(core, (step) => {
    if (step === 2) core.scheduler.cancel('x');
    if (step === 2) core.scheduler.cancel('z'); // still waiting
    if (step === 2) core.scheduler.cancel('nobody');
  });
  assert.equal(out.get('x')!.done.finishReason, 'cancelled');
  assert.equal(out.get('x')!.ids.length, 2);
  assert.equal(out.get('z')!.done.finishReason, 'cancelled');
  assert.equal(out.get('z')!.done.timings.ttftMs, -1);
  assert.equal(out.get('y')!.done.finishReason, 'length');
  // Step 3 (index 2) must already run y in x's place.
  assert.deepEqual(runner.steps[2].map(([id]) => id), [2]);
  assert.equal(runner.liveSequences, 0);
});

test('EOS and stop token ids end with stop; the token counts but shows no text', async () => {
  const script: LogitsScript = (history, vocab) => {
    const l = new Float32Array(vocab).fill(-1);
    l[history.length >= 5 ? 39 : 1 + history.length] = 5; // tokens 2,3,4 then EOS 39 from length 5
    return l;
  };
  const { core } = setup({ eosTokenIds: [39] }, { script });
  core.scheduler.submit(req('e', [7, 8], { maxTokens: 20 }));
  core.scheduler.submit(req('t', [7, 8], { maxTokens: 20, stopTokenIds: [4] }));
  const out = await drive(core);
  assert.deepEqual(out.get('e')!.ids, [3, 4, 5, 39]);
  assert.equal(out.get('e')!.text, 'def');
  assert.equal(out.get('e')!.done.finishReason, 'stop');
  assert.equal(out.get('e')!.done.usage.completionTokens, 4);
  assert.deepEqual(out.get('t')!.ids, [3, 4]);
  assert.equal(out.get('t')!.text, 'd');
});

test('stop strings spanning tokens truncate the text and never leak', async () => {
  // Generates "hello world" letter by letter: h e l l o ' ' w o r l d
  const word = [7, 4, 11, 11, 14, 26, 22, 14, 17, 11, 3];
  const script: LogitsScript = (history, vocab) => {
    const l = new Float32Array(vocab).fill(-1);
    l[word[(history.length - 1) % word.length]] = 5;
    return l;
  };
  const { core } = setup({}, { script });
  core.scheduler.submit(req('s', [0], { maxTokens: 30, stop: ['o w', 'xyz'] }));
  const seen: string[] = [];
  const out = new Map<string, string>();
  while (core.scheduler.hasWork()) for (const e of await core.step()) {
    seen.push(e.text);
    out.set(e.reqId, (out.get(e.reqId) ?? '') + e.text);
    if (e.type === 'done') assert.equal(e.finishReason, 'stop');
  }
  assert.equal(out.get('s'), 'hell');
  assert.ok(!seen.join('').includes('o'), 'no part of the stop string was released');
});

test('held-back text is released at the end when the stop never completes', async () => {
  const script: LogitsScript = (_h, vocab) => {
    const l = new Float32Array(vocab).fill(-1);
    l[0] = 5; // "aaaa"
    return l;
  };
  const { core } = setup({}, { script });
  core.scheduler.submit(req('h', [1], { maxTokens: 4, stop: ['ab'] }));
  const o = (await drive(core)).get('h')!;
  assert.equal(o.text, 'aaaa');
  assert.equal(o.done.finishReason, 'length');
});

test('deadline: waiting and running requests end with timeout', async () => {
  let clock = 1000;
  const { core } = setup({ maxBatch: 1, now: () => clock });
  core.scheduler.submit(req('run', [1], { maxTokens: 50, deadlineMs: 1003 }), 1000);
  core.scheduler.submit(req('wait', [2], { maxTokens: 5, deadlineMs: 1001 }), 1000);
  const out = await drive(core, () => clock++);
  assert.equal(out.get('run')!.done.finishReason, 'timeout');
  assert.ok(out.get('run')!.ids.length >= 1 && out.get('run')!.ids.length < 50);
  assert.equal(out.get('wait')!.done.finishReason, 'timeout');
  assert.equal(out.get('wait')!.ids.length, 0);
});

test('drain: new submits refused, accepted requests finish', async () => {
  const { core } = setup({ maxBatch: 1 });
  core.scheduler.submit(req('a', [1], { maxTokens: 3 }));
  core.scheduler.submit(req('b', [2], { maxTokens: 3 }));
  core.scheduler.startDrain();
  assert.throws(() => core.scheduler.submit(req('c', [3])), (e: unknown) => e instanceof EdgewiseError && e.kind === 'unavailable');
  const out = await drive(core);
  assert.equal(out.get('a')!.done.finishReason, 'length');
  assert.equal(out.get('b')!.done.finishReason, 'length');
});

test('chunked prefill: long prompts run in chunks beside decodes and give the same tokens', async () => {
  const long = Array.from({ length: 23 }, (_, i) => (i * 7) % VOCAB);
  const { core, runner } = setup({ maxStepTokens: 6 });
  core.scheduler.submit(req('short', [1], { maxTokens: 8 }));
  core.scheduler.submit(req('long', long, { maxTokens: 6 }));
  const out = await drive(core);
  assert.deepEqual(out.get('long')!.ids, referenceGreedy(long, 6));
  assert.deepEqual(out.get('short')!.ids, referenceGreedy([1], 8));
  assert.ok(runner.steps.every((s) => s.reduce((n, [, k]) => n + k, 0) <= 6), JSON.stringify(runner.steps));
  assert.equal(out.get('long')!.done.usage.promptTokens, 23);
});

test('a runner failure ends that batch with error events and the engine keeps serving', async () => {
  const { core, runner } = setup();
  core.scheduler.submit(req('f1', [1], { maxTokens: 5 }));
  core.scheduler.submit(req('f2', [2], { maxTokens: 5 }));
  runner.failNextStep = new Error('boom', { cause: new Error('disk gone') });
  const events = await core.step();
  assert.deepEqual(events.map((e) => [e.reqId, e.type, e.type === 'done' ? e.finishReason : '']), [
    ['f1', 'done', 'error'],
    ['f2', 'done', 'error'],
  ]);
  const failure = (events[0] as Extract<GenerationEvent, { type: 'done' }>).error;
  assert.equal(failure?.message, 'boom');
  // The operator's log gets the stack with its cause chain; the client only the message.
  assert.match(failure?.cause ?? '', /^Error: boom\n\s+at [^]*\ncaused by: Error: disk gone\n\s+at /);
  assert.equal(runner.liveSequences, 0);
  core.scheduler.submit(req('ok', [1], { maxTokens: 5 }));
  assert.deepEqual((await drive(core)).get('ok')!.ids, referenceGreedy([1], 5));
});

test('logprobs ride along with delta events', async () => {
  const { core } = setup();
  core.scheduler.submit(req('lp', [1], { maxTokens: 3 }, { topLogprobs: 2 }));
  const events: GenerationEvent[] = [];
  while (core.scheduler.hasWork()) events.push(...(await core.step()));
  const deltas = events.filter((e) => e.type === 'delta');
  assert.equal(deltas.length, 3);
  for (const d of deltas) {
    assert.equal(d.logprobs?.length, 1);
    assert.equal(d.logprobs![0].tokenId, d.tokenIds[0]);
    assert.equal(d.logprobs![0].top.length, 2);
    assert.equal(d.logprobs![0].top[0].tokenId, d.tokenIds[0], 'greedy picks the top alternative');
    assert.ok(d.logprobs![0].logprob < 0);
  }
});

test('block decodes of each step are charged to every request in that step', async () => {
  const runner = new FakeRunner(VOCAB, { maxSeqLen: 64 });
  const scheduler = new Scheduler({ maxBatch: 4, maxQueue: 8, maxContext: 64, vocabSize: VOCAB, eosTokenIds: [], detokenizer: detok });
  // Stands in for a .ewm provider: every runner step decodes 3 blocks taking 2 ms each.
  const stats = { count: 0, totalMs: 0 };
  const stepsRun = new Map<string, number>();
  const countingRunner = Object.create(runner) as FakeRunner;
  countingRunner.step = async (entries) => {
    stats.count += 3;
    stats.totalMs += 6;
    for (const e of entries) {
      const reqId = scheduler.reqIdOf(e.seqId)!;
      stepsRun.set(reqId, (stepsRun.get(reqId) ?? 0) + 1);
    }
    return runner.step(entries);
  };
  const core = new EngineCore(countingRunner, scheduler, stats);
  scheduler.submit(req('a', [1, 2, 3], { maxTokens: 4 }));
  const out = await drive(core, (i) => {
    if (i === 2) scheduler.submit(req('b', [4, 5], { maxTokens: 3 }));
  });
  for (const id of ['a', 'b']) {
    const steps = stepsRun.get(id)!;
    assert.ok(steps >= 3, `request ${id} ran ${steps} steps`);
    assert.deepEqual(out.get(id)!.done.blockDecode, { count: 3 * steps, totalMs: 6 * steps });
  }
  // Without decode stats (uncompressed weights) the done event carries none.
  const plain = setup();
  plain.scheduler.submit(req('c', [1], { maxTokens: 2 }));
  assert.equal((await drive(plain.core)).get('c')!.done.blockDecode, undefined);
});
