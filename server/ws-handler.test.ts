// The /v1/ws protocol on a fake engine: JSON and msgpack frames, multiplexing, cancel, errors, slow readers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EdgewiseWsClient } from './client/ws-client.js';
import { FakeEngine } from './fake-engine.js';
import { sleep, startTestServer } from './test-helpers.js';

function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace('http://', 'ws://')}/v1/ws`;
}

describe('WebSocket protocol', () => {
  for (const mode of ['json', 'msgpack'] as const) {
    it(`multiplexes requests over ${mode} frames`, async () => {
      const engine = new FakeEngine({ stepMs: 2 });
      const t = await startTestServer({ engine });
      const client = await EdgewiseWsClient.connect(wsUrl(t.url), { mode });
      try {
        const a = client.request('chat', { messages: [{ role: 'user', content: 'one' }], max_tokens: 6 });
        const b = client.request('completion', { prompt: 'two', max_tokens: 9, n: 2, seed: 1 });
        const [ra, rb] = await Promise.all([a.collect(), b.collect()]);
        assert.equal(ra.status, 'completed');
        assert.equal(ra.texts[0].length, 6);
        assert.equal(ra.usage!.completion_tokens, 6);
        assert.equal(ra.usage!.prompt_tokens, '<user>one<assistant>'.length);
        assert.deepEqual(rb.finishReasons, ['length', 'length']);
        assert.equal(rb.texts.length, 2);
        assert.notEqual(rb.texts[0], rb.texts[1], 'seeded choices differ');
        assert.equal(rb.usage!.completion_tokens, 18);
        assert.equal(ra.events[0].type, 'response.created');
        assert.equal(engine.maxRunningSeen, 3, 'both requests (1 + 2 choices) ran in the same steps');
        const http = await (await fetch(`${t.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'two', max_tokens: 9, seed: 1 }) })).json();
        assert.equal(rb.texts[0], (http as any).choices[0].text, 'same output as over HTTP');
      } finally {
        await client.close();
        await t.close();
      }
    });
  }

  it('cancels one request and leaves the other running', async () => {
    const engine = new FakeEngine({ stepMs: 5 });
    const t = await startTestServer({ engine });
    const client = await EdgewiseWsClient.connect(wsUrl(t.url), { mode: 'msgpack' });
    try {
      const long = client.request('completion', { prompt: 'x', max_tokens: 400 }, 'long');
      const short = client.request('completion', { prompt: 'y', max_tokens: 10 }, 'short');
      let deltas = 0;
      for await (const event of long) {
        if (event.type === 'response.output_text.delta' && ++deltas === 3) long.cancel();
        if (event.type === 'response.done') {
          assert.equal(event.status, 'cancelled');
          assert.ok(event.usage.completion_tokens >= 3 && event.usage.completion_tokens < 400);
        }
      }
      assert.ok(engine.cancelled.some((id) => id.endsWith('/0')));
      const rs = await short.collect();
      assert.equal(rs.status, 'completed');
      assert.equal(rs.usage!.completion_tokens, 10);
      await sleep(20);
      assert.equal(engine.stats().running, 0);
    } finally {
      await client.close();
      await t.close();
    }
  });

  it('answers bad messages with error events and keeps the socket', async () => {
    const t = await startTestServer({ engine: new FakeEngine() });
    const client = await EdgewiseWsClient.connect(wsUrl(t.url));
    try {
      const bad = await client.request('chat', { messages: [] }, 'bad').collect();
      assert.equal(bad.status, 'failed');
      assert.equal(bad.error!.type, 'invalid_request_error');
      assert.equal(bad.error!.param, 'messages');
      const tools = await client.request('chat', { messages: [{ role: 'user', content: 'x' }], tools: [{}] }).collect();
      assert.match(tools.error!.message, /tools/);
      client.raw.send('{oops');
      await sleep(30);
      assert.equal(client.connectionErrors.length, 1);
      const ok = await client.request('completion', { prompt: 'x', max_tokens: 2 }).collect();
      assert.equal(ok.status, 'completed');
    } finally {
      await client.close();
      await t.close();
    }
  });

  it('checks the API key on upgrade and cancels on close', async () => {
    const engine = new FakeEngine({ stepMs: 5 });
    const t = await startTestServer({ engine, apiKey: 'k' });
    try {
      await assert.rejects(EdgewiseWsClient.connect(wsUrl(t.url)), /401/);
      const client = await EdgewiseWsClient.connect(wsUrl(t.url), { apiKey: 'k' });
      const req = client.request('completion', { prompt: 'x', max_tokens: 400 });
      for await (const event of req) if (event.type === 'response.output_text.delta') break;
      assert.equal(engine.stats().running, 1);
      await client.close();
      await sleep(30);
      assert.equal(engine.stats().running, 0, 'closing the socket freed the slot');
    } finally {
      await t.close();
    }
  });

  it('bounds what a slow reader buffers and does not slow another client', async () => {
    // 16 KiB per token: a paused reader fills the socket buffers within a few hundred tokens.
    const engine = new FakeEngine({ maxContext: 100_000, stepMs: 1, tokenText: (req, i) => (req.promptIds.length > 3 ? 'z'.repeat(16384) : String.fromCharCode(97 + (i % 26))) });
    const t = await startTestServer({ engine, wsHighWaterBytes: 64 * 1024, maxPendingBytes: 512 * 1024 });
    const slow = await EdgewiseWsClient.connect(wsUrl(t.url));
    const fast = await EdgewiseWsClient.connect(wsUrl(t.url));
    try {
      const flood = slow.request('completion', { prompt: 'flood', max_tokens: 3000 }, 'flood');
      slow.raw.pause();
      const started = Date.now();
      const quick = await fast.request('completion', { prompt: 'q', max_tokens: 50 }).collect();
      assert.equal(quick.status, 'completed');
      assert.equal(quick.usage!.completion_tokens, 50);
      assert.ok(Date.now() - started < 3000, 'the fast client was not held up');
      const floodReqId = engine.submitted.find((r) => r.maxTokens === 3000)!.reqId;
      for (let i = 0; i < 200 && !engine.cancelled.includes(floodReqId); i++) await sleep(25);
      assert.ok(engine.cancelled.includes(floodReqId), 'the slow reader\'s request was ended');
      assert.equal(engine.stats().running, 0);
      slow.raw.resume();
      const result = await flood.collect();
      assert.equal(result.status, 'failed');
      assert.equal(result.error!.code, 'slow_consumer');
    } finally {
      await slow.close();
      await fast.close();
      await t.close();
    }
  });
});
