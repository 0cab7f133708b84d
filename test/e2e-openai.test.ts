// End to end with the official openai client against `edgewise serve` on the bundled default model.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { DEFAULT_MODEL, noEosBias, spawnServer, type ServerProcess } from './e2e-server.js';

const API_KEY = 'e2e-key';
// The default model's EOS ids biased away, so that runs reach max_tokens.
const NO_EOS = noEosBias();

async function tokenCount(url: string, body: object): Promise<number> {
  const res = await fetch(`${url}/tokenize`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: JSON.stringify(body) });
  return ((await res.json()) as { count: number }).count;
}

describe('e2e: openai client against edgewise serve', () => {
  let server: ServerProcess;
  let client: OpenAI;
  let model: string;
  before(async () => {
    server = await spawnServer(['--model', DEFAULT_MODEL, '--api-key', API_KEY, '--max-batch', '8']);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    model = (await client.models.list()).data[0].id;
  });
  after(async () => {
    assert.equal(await server.stop(), 0, 'SIGTERM drains and exits 0');
  });

  const messages = [{ role: 'user' as const, content: 'Tell me a story about a cat.' }];

  it('lists the model by its folder name', async () => {
    assert.equal(model, 'default');
    assert.equal((await client.models.retrieve('default')).id, 'default');
  });

  it('chat, non-streaming: exact usage and length finish', async () => {
    const res = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, logit_bias: NO_EOS });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.equal(res.choices[0].finish_reason, 'length');
    assert.equal(res.usage!.completion_tokens, 12);
    assert.equal(res.usage!.prompt_tokens, await tokenCount(server.url, { messages }));
    assert.equal(res.usage!.total_tokens, res.usage!.prompt_tokens + 12);
    assert.ok(res.choices[0].message.content!.length > 0);
  });

  it('chat, streaming with include_usage equals the non-streaming answer', async () => {
    const params = { model, messages, max_tokens: 10, temperature: 0, logit_bias: NO_EOS };
    const full = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    const ids = new Set<string>();
    let text = '';
    let roles = 0;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      for (const choice of chunk.choices) {
        if (choice.delta.role) roles++;
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) {
        assert.deepEqual(chunk.choices, []);
        usage = chunk.usage;
      }
    }
    assert.equal(ids.size, 1);
    assert.equal(roles, 1);
    assert.equal(text, full.choices[0].message.content);
    assert.equal(finish, 'length');
    assert.deepEqual(usage, full.usage);
  });

  it('completions, streaming and not, with logprobs', async () => {
    const prompt = 'Once upon a time';
    const full = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0, logprobs: 2, logit_bias: NO_EOS });
    assert.equal(full.object, 'text_completion');
    assert.equal(full.usage!.completion_tokens, 8);
    assert.equal(full.usage!.prompt_tokens, await tokenCount(server.url, { prompt }));
    const lp = full.choices[0].logprobs!;
    assert.equal(lp.tokens!.length, 8);
    assert.ok(lp.token_logprobs!.every((x) => x <= 0));
    assert.ok(lp.top_logprobs!.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2));
    let text = '';
    for await (const chunk of await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0, stream: true, logit_bias: NO_EOS })) {
      text += chunk.choices[0]?.text ?? '';
    }
    assert.equal(text, full.choices[0].text);
  });

  it('stop strings end the text before the stop, streaming included', async () => {
    const base = { model, messages, max_tokens: 24, temperature: 0, logit_bias: NO_EOS };
    const free = (await client.chat.completions.create(base)).choices[0].message.content!;
    assert.ok(free.length >= 8, `need some text to cut: ${JSON.stringify(free)}`);
    const stop = free.slice(4, 7);
    const expected = free.slice(0, free.indexOf(stop));
    const cut = await client.chat.completions.create({ ...base, stop: [stop, 'never-appears-xyz'] });
    assert.equal(cut.choices[0].message.content, expected);
    assert.equal(cut.choices[0].finish_reason, 'stop');
    let streamed = '';
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create({ ...base, stop, stream: true })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      assert.ok(!streamed.includes(stop), 'no stop string leaks into the stream');
    }
    assert.equal(streamed, expected);
    assert.equal(finish, 'stop');
  });

  it('the same seed replays the same sampled output; another seed differs', async () => {
    const params = { model, messages, max_tokens: 16, temperature: 1, logit_bias: NO_EOS };
    const a = await client.chat.completions.create({ ...params, seed: 1234 });
    const b = await client.chat.completions.create({ ...params, seed: 1234 });
    const c = await client.chat.completions.create({ ...params, seed: 999 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    assert.notEqual(a.choices[0].message.content, c.choices[0].message.content);
  });

  it('n > 1 returns n choices served together with summed usage', async () => {
    const res = await client.chat.completions.create({ model, messages, max_tokens: 6, n: 3, temperature: 1, seed: 7, logit_bias: NO_EOS });
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
    assert.equal(res.usage!.completion_tokens, 18);
    assert.equal(res.usage!.prompt_tokens, await tokenCount(server.url, { messages }));
    assert.ok(new Set(res.choices.map((c) => c.message.content)).size > 1, 'sampled choices differ');
  });
});
