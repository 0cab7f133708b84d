// HTTP routes, SSE framing, error statuses, pings, disconnects and drain, against a scripted fake engine.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { EdgewiseServer } from './app.js';
import { FakeEngine } from './fake-engine.js';
import { getJson, parseSse, postJson, sleep, startTestServer, type TestServer } from './test-helpers.js';

/** The fake engine's script: letters from (sum of prompt ids + seed), one per token. */
function expectedText(promptIds: number[], seed: number, count: number): string {
  const base = promptIds.reduce((a, b) => a + b, 0) + seed;
  return Array.from({ length: count }, (_, i) => String.fromCharCode(97 + ((base + i) % 26))).join('');
}

describe('server routes on a fake engine', () => {
  let t: TestServer;
  let engine: FakeEngine;
  before(async () => {
    engine = new FakeEngine({ stepMs: 1 });
    t = await startTestServer({ engine, pingIntervalMs: 15_000 });
  });
  after(() => t.close());

  it('serves health, ready, models and stats', async () => {
    assert.equal((await fetch(`${t.url}/health`)).status, 200);
    const ready = (await getJson(`${t.url}/ready`)).json;
    assert.equal(ready.status, 'ready');
    assert.equal(ready.running, 0);
    const models = (await getJson(`${t.url}/v1/models`)).json;
    assert.equal(models.object, 'list');
    assert.equal(models.data[0].id, 'fake-model');
    assert.equal((await fetch(`${t.url}/v1/models/fake-model`)).status, 200);
    const missing = await getJson(`${t.url}/v1/models/other`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.type, 'not_found_error');
    const stats = (await getJson(`${t.url}/v1/edgewise/stats`)).json;
    assert.deepEqual([stats.running, stats.waiting, stats.sessions], [0, 0, 0]);
  });

  it('answers a non-streaming completion with the scripted text and exact usage', async () => {
    const prompt = 'Hello';
    const promptIds = [256, ...Buffer.from(prompt)];
    const res = await postJson(`${t.url}/v1/completions`, { model: 'fake-model', prompt, max_tokens: 7, seed: 3, unknown_field: 1 });
    assert.equal(res.status, 200);
    assert.equal(res.json.object, 'text_completion');
    assert.equal(res.json.choices[0].text, expectedText(promptIds, 3, 7));
    assert.equal(res.json.choices[0].finish_reason, 'length');
    assert.deepEqual(res.json.usage, { prompt_tokens: promptIds.length, completion_tokens: 7, total_tokens: promptIds.length + 7 });
  });

  it('fans n out into seeded choices and counts the prompt once', async () => {
    const res = await postJson(`${t.url}/v1/chat/completions`, { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], n: 3, max_tokens: 4, seed: 10 });
    assert.equal(res.status, 200);
    const promptIds = Array.from(Buffer.from('<user>hi<assistant>'));
    assert.equal(res.json.choices.length, 3);
    res.json.choices.forEach((c: any, i: number) => {
      assert.equal(c.index, i);
      assert.equal(c.message.role, 'assistant');
      assert.equal(c.message.content, expectedText(promptIds, 10 + i, 4));
    });
    assert.deepEqual(res.json.usage, { prompt_tokens: promptIds.length, completion_tokens: 12, total_tokens: promptIds.length + 12 });
  });

  it('streams chat chunks: one id, role first only, usage chunk, then [DONE]', async () => {
    const res = await postJson(`${t.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'abc' }], max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    assert.equal(res.status, 200);
    const { events } = parseSse(res.text);
    assert.equal(events[events.length - 1], '[DONE]');
    const chunks = events.slice(0, -1) as any[];
    assert.ok(chunks.every((c) => c.id === chunks[0].id && c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(chunks.slice(1).every((c) => c.choices.every((ch: any) => ch.delta.role === undefined)));
    const usageChunk = chunks[chunks.length - 1];
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.completion_tokens, 5);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    const text = chunks.flatMap((c) => c.choices.map((ch: any) => ch.delta.content ?? '')).join('');
    assert.equal(text, expectedText(Array.from(Buffer.from('<user>abc<assistant>')), 0, 5));
    assert.equal(chunks[chunks.length - 2].choices[0].finish_reason, 'length');
  });

  it('reports logprobs in the OpenAI shapes', async () => {
    const chat = await postJson(`${t.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'x' }], max_tokens: 2, logprobs: true, top_logprobs: 2 });
    const content = chat.json.choices[0].logprobs.content;
    assert.equal(content.length, 2);
    assert.equal(content[0].logprob, -0.25);
    assert.equal(content[0].top_logprobs.length, 2);
    assert.deepEqual(content[0].bytes, Array.from(Buffer.from(content[0].token)));
    const comp = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 3, logprobs: 1 });
    const lp = comp.json.choices[0].logprobs;
    assert.equal(lp.tokens.join(''), comp.json.choices[0].text);
    assert.deepEqual(lp.text_offset, [0, 1, 2]);
    assert.equal(Object.keys(lp.top_logprobs[0]).length, 1);
  });

  it('tokenizes and detokenizes', async () => {
    const tok = await postJson(`${t.url}/tokenize`, { prompt: 'ab' });
    assert.deepEqual(tok.json.tokens, [256, 97, 98]);
    assert.equal(tok.json.count, 3);
    const chat = await postJson(`${t.url}/tokenize`, { messages: [{ role: 'user', content: 'q' }] });
    assert.equal(Buffer.from(chat.json.tokens).toString(), '<user>q<assistant>');
    const detok = await postJson(`${t.url}/detokenize`, { tokens: [104, 105] });
    assert.equal(detok.json.prompt, 'hi');
    assert.equal((await postJson(`${t.url}/detokenize`, { tokens: [9999] })).status, 400);
  });

  it('maps bad requests to 400/404 with the OpenAI error object', async () => {
    const cases: [unknown, number, string | null][] = [
      ['{not json', 400, null],
      [{ messages: 'nope' }, 400, 'messages'],
      [{ messages: [{ role: 'user', content: 'x' }], temperature: 5 }, 400, 'temperature'],
      [{ messages: [{ role: 'user', content: 'x' }], n: 9 }, 400, 'n'],
      [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }, 400, 'tools'],
      [{ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }, 400, 'response_format.type'],
      [{ messages: [{ role: 'user', content: 'x' }], max_tokens: 100000 }, 400, 'max_tokens'],
      [{ messages: [{ role: 'user', content: 'x' }], logit_bias: { '99999': 1 } }, 400, 'logit_bias'],
      [{ messages: [{ role: 'user', content: 'x' }], model: 'gpt-4' }, 404, 'model'],
    ];
    for (const [body, status, param] of cases) {
      const res = await postJson(`${t.url}/v1/chat/completions`, body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.json.error.type, status === 400 ? 'invalid_request_error' : 'not_found_error');
      assert.equal(res.json.error.param, param, JSON.stringify(body));
      assert.equal(typeof res.json.error.message, 'string');
      assert.ok('code' in res.json.error);
    }
    const route = await getJson(`${t.url}/v1/nothing`);
    assert.equal(route.status, 404);
    assert.equal(route.json.error.type, 'not_found_error');
    const echo = await postJson(`${t.url}/v1/completions`, { prompt: 'x', echo: true });
    assert.equal(echo.status, 400);
    assert.match(echo.json.error.message, /echo/);
  });

  it('refuses bodies over the cap with 413 and keeps serving', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) });
    const res = await postJson(`${t.url}/v1/completions`, big);
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'payload_too_large');
    assert.equal((await fetch(`${t.url}/health`)).status, 200);
  });
});

describe('server limits, pings, disconnects and drain', () => {
  it('requires the API key when one is set (401)', async () => {
    const t = await startTestServer({ engine: new FakeEngine(), apiKey: 'sekret' });
    try {
      const none = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 1 });
      assert.equal(none.status, 401);
      assert.equal(none.json.error.type, 'authentication_error');
      const wrong = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 1 }, { authorization: 'Bearer nope' });
      assert.equal(wrong.status, 401);
      const right = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 1 }, { authorization: 'Bearer sekret' });
      assert.equal(right.status, 200);
      assert.equal((await fetch(`${t.url}/health`)).status, 200, 'probes need no key');
    } finally {
      await t.close();
    }
  });

  it('refuses to share a port with another server', async () => {
    const t = await startTestServer({ engine: new FakeEngine() });
    const port = Number(new URL(t.url).port);
    const second = new EdgewiseServer({ engine: new FakeEngine(), logger: pino({ level: 'silent' }) });
    try {
      await assert.rejects(second.listen('127.0.0.1', port), /cannot listen/);
    } finally {
      second.close();
      await t.close();
    }
  });

  it('maps a bug in a handler to an opaque 500 and keeps serving', async () => {
    const engine = new FakeEngine();
    engine.tokenizer.encode = () => {
      throw new TypeError('internal detail');
    };
    const t = await startTestServer({ engine });
    try {
      const res = await postJson(`${t.url}/v1/completions`, { prompt: 'x' });
      assert.equal(res.status, 500);
      assert.equal(res.json.error.type, 'server_error');
      assert.doesNotMatch(res.json.error.message, /internal detail/);
      assert.equal((await fetch(`${t.url}/health`)).status, 200);
    } finally {
      await t.close();
    }
  });

  it('answers 429 when the queue is full', async () => {
    const engine = new FakeEngine({ maxBatch: 1, maxQueue: 1, stepMs: 20 });
    const t = await startTestServer({ engine });
    try {
      const first = postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 5 });
      const second = postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 5 });
      for (let i = 0; i < 200 && engine.stats().waiting === 0; i++) await sleep(5);
      const third = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 5 });
      assert.equal(third.status, 429);
      assert.equal(third.json.error.type, 'overloaded');
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
    } finally {
      await t.close();
    }
  });

  it('pings idle SSE streams and ends timed-out requests with length', async () => {
    const engine = new FakeEngine({ stepMs: 120 });
    const t = await startTestServer({ engine, pingIntervalMs: 30, requestTimeoutSec: 0.3 });
    try {
      const res = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 50, stream: true });
      const { events, comments } = parseSse(res.text);
      assert.ok(comments.includes('ping'), 'a ping went out between slow tokens');
      const chunks = events.filter((e) => e !== '[DONE]') as any[];
      assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'length');
      assert.ok(chunks.length < 10, 'the deadline cut generation short');
    } finally {
      await t.close();
    }
  });

  it('frees the engine slot when a streaming client disconnects', async () => {
    const engine = new FakeEngine({ stepMs: 10 });
    const t = await startTestServer({ engine });
    try {
      const abort = new AbortController();
      const res = await fetch(`${t.url}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'x', max_tokens: 400, stream: true }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      assert.equal(engine.stats().running, 1);
      abort.abort();
      await sleep(50);
      assert.equal(engine.stats().running, 0);
      assert.equal(engine.cancelled.length, 1);
      const stats = (await getJson(`${t.url}/v1/edgewise/stats`)).json;
      assert.equal(stats.sessions, 0);
    } finally {
      await t.close();
    }
  });

  it('drains: /ready 503, new requests 503, running ones finish', async () => {
    const engine = new FakeEngine({ stepMs: 5 });
    const t = await startTestServer({ engine });
    try {
      const running = postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 30 });
      for (let i = 0; i < 200 && engine.stats().running === 0; i++) await sleep(5);
      const drained = t.server.drain(5000);
      assert.equal((await fetch(`${t.url}/ready`)).status, 503);
      const refused = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 3 });
      assert.equal(refused.status, 503);
      assert.equal(refused.json.error.type, 'unavailable_error');
      const done = await running;
      assert.equal(done.status, 200);
      assert.equal(done.json.usage.completion_tokens, 30);
      await drained;
    } finally {
      await t.close();
    }
  });

  it('turns an engine failure into an error response, in-band when streaming, and logs its cause', async () => {
    const logLines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const t = await startTestServer({ engine: new FakeEngine({ failAfterTokens: 2 }), logger });
    try {
      const plain = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 5 });
      assert.equal(plain.status, 500);
      assert.equal(plain.json.error.type, 'server_error');
      assert.doesNotMatch(plain.text, /FakeEngine\.step/, 'the stack stays out of the response');
      const failed = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
      assert.equal(failed?.error?.message, 'scripted engine failure');
      assert.match(failed?.error?.cause ?? '', /at FakeEngine\.step/);
      const streamed = await postJson(`${t.url}/v1/completions`, { prompt: 'x', max_tokens: 5, stream: true });
      const { events } = parseSse(streamed.text);
      assert.equal((events[events.length - 2] as any).error.type, 'server_error');
      assert.equal(events[events.length - 1], '[DONE]');
    } finally {
      await t.close();
    }
  });
});

describe('slow SSE readers', () => {
  it('closes a stream whose reader stalls past the backlog cap and keeps serving others', async () => {
    const engine = new FakeEngine({ maxContext: 100_000, stepMs: 1, tokenText: (req, i) => (req.maxTokens > 1000 ? 'z'.repeat(16384) : String.fromCharCode(97 + (i % 26))) });
    const t = await startTestServer({ engine, maxPendingBytes: 256 * 1024 });
    try {
      const res = await fetch(`${t.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'x', max_tokens: 5000, stream: true }) });
      assert.equal(res.status, 200);
      // Never read the body: the socket backs up, uWS buffers, the cap trips.
      const floodReqId = engine.submitted[0].reqId;
      for (let i = 0; i < 400 && !engine.cancelled.includes(floodReqId); i++) await sleep(25);
      assert.ok(engine.cancelled.includes(floodReqId), 'the stalled stream was ended');
      const other = await postJson(`${t.url}/v1/completions`, { prompt: 'y', max_tokens: 5 });
      assert.equal(other.status, 200);
      await res.body?.cancel().catch(() => undefined);
    } finally {
      await t.close();
    }
  });
});
