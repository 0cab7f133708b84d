// End to end: the WebSocket client (JSON and msgpack) and 32 concurrent SSE streams against `edgewise serve`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EdgewiseWsClient } from '../server/client/ws-client.js';
import { DEFAULT_MODEL, noEosBias, spawnServer, type ServerProcess } from './e2e-server.js';

// The default model's EOS ids biased away, so that runs reach max_tokens.
const NO_EOS = noEosBias();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StreamResult {
  text: string;
  finish: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

/** One streaming completion read with fetch, SSE parsed by hand. */
async function streamCompletion(url: string, prompt: string, maxTokens: number): Promise<StreamResult> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  assert.equal(res.status, 200);
  const body = await res.text();
  const out: StreamResult = { text: '', finish: null, usage: null };
  const datas = body.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
  assert.equal(datas[datas.length - 1], '[DONE]');
  for (const data of datas.slice(0, -1)) {
    const chunk = JSON.parse(data);
    for (const c of chunk.choices) {
      out.text += c.text;
      out.finish = c.finish_reason ?? out.finish;
    }
    if (chunk.usage) out.usage = chunk.usage;
  }
  return out;
}

async function promptTokens(url: string, prompt: string): Promise<number> {
  const res = await fetch(`${url}/tokenize`, { method: 'POST', body: JSON.stringify({ prompt }) });
  return ((await res.json()) as { count: number }).count;
}

describe('e2e: WebSocket and concurrency', () => {
  let server: ServerProcess;
  let wsUrl: string;
  before(async () => {
    server = await spawnServer(['--model', DEFAULT_MODEL, '--max-batch', '16']);
    wsUrl = `${server.url.replace('http://', 'ws://')}/v1/ws`;
  });
  after(() => server.stop());

  for (const mode of ['json', 'msgpack'] as const) {
    it(`multiplexes two requests over ${mode} frames with HTTP-identical greedy output`, async () => {
      const client = await EdgewiseWsClient.connect(wsUrl, { mode });
      try {
        const chatBody = { messages: [{ role: 'user', content: 'Hi there' }], max_tokens: 10, temperature: 0, logit_bias: NO_EOS };
        const compBody = { prompt: 'The weather', max_tokens: 12, temperature: 0, logit_bias: NO_EOS };
        const [chat, comp] = await Promise.all([client.request('chat', chatBody).collect(), client.request('completion', compBody).collect()]);
        const httpChat = (await (await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(chatBody) })).json()) as any;
        const httpComp = (await (await fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify(compBody) })).json()) as any;
        assert.equal(chat.status, 'completed');
        assert.equal(chat.texts[0], httpChat.choices[0].message.content);
        assert.deepEqual(chat.usage, httpChat.usage);
        assert.equal(comp.texts[0], httpComp.choices[0].text);
        assert.deepEqual(comp.usage, httpComp.usage);
        assert.deepEqual(comp.finishReasons, ['length']);
      } finally {
        await client.close();
      }
    });
  }

  it('cancels a WebSocket request and frees its slot', async () => {
    const client = await EdgewiseWsClient.connect(wsUrl, { mode: 'msgpack' });
    try {
      const req = client.request('completion', { prompt: 'The', max_tokens: 400, logit_bias: NO_EOS });
      let deltas = 0;
      let done: any = null;
      for await (const event of req) {
        if (event.type === 'response.output_text.delta' && ++deltas === 2) req.cancel();
        if (event.type === 'response.done') done = event;
      }
      assert.equal(done.status, 'cancelled');
      assert.ok(done.usage.completion_tokens < 400);
      let stats: any = null;
      for (let i = 0; i < 100; i++) {
        stats = await (await fetch(`${server.url}/v1/edgewise/stats`)).json();
        if (stats.running === 0) break;
        await sleep(20);
      }
      assert.equal(stats.running, 0);
    } finally {
      await client.close();
    }
  });

  it('32 concurrent streams finish with exact usage and the same greedy text as one at a time', async () => {
    const words = ['cat', 'dog', 'house', 'river', 'king', 'time', 'night', 'story'];
    const prompts = Array.from({ length: 32 }, (_, i) => `The ${words[i % 8]} ${i % 3 === 0 ? 'was' : 'and the'} ${words[(i * 5) % 8]}`);
    const maxTokens = 8;
    const sequential: StreamResult[] = [];
    for (const p of prompts) sequential.push(await streamCompletion(server.url, p, maxTokens));
    const concurrent = await Promise.all(prompts.map((p) => streamCompletion(server.url, p, maxTokens)));
    for (let i = 0; i < prompts.length; i++) {
      const c = concurrent[i];
      const s = sequential[i];
      assert.equal(c.text, s.text, `prompt ${i}: batched text equals the one-at-a-time text`);
      assert.equal(c.finish, s.finish);
      assert.ok(c.usage);
      assert.equal(c.usage.prompt_tokens, await promptTokens(server.url, prompts[i]));
      assert.equal(c.usage.completion_tokens, s.usage!.completion_tokens);
      if (c.finish === 'length') assert.equal(c.usage.completion_tokens, maxTokens);
      assert.ok(c.usage.completion_tokens >= 1 && c.usage.completion_tokens <= maxTokens);
    }
  });
});
