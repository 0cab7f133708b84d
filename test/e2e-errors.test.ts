// End to end over raw HTTP: every error status, client disconnects, and SIGTERM drain of a real server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MODEL, noEosBias, spawnServer, type ServerProcess } from './e2e-server.js';

// The default model's EOS ids biased away, so that runs reach max_tokens.
const NO_EOS = noEosBias();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function call(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

function assertOpenAiError(res: { status: number; json: any }, status: number, type: string): void {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.type, type);
  assert.equal(typeof res.json.error.message, 'string');
  assert.ok('param' in res.json.error && 'code' in res.json.error);
}

async function stats(url: string, headers: Record<string, string> = {}): Promise<{ running: number; waiting: number; sessions: number }> {
  const res = await call(url, '/v1/edgewise/stats', undefined, headers);
  assert.equal(res.status, 200);
  return res.json;
}

describe('e2e: error statuses', () => {
  let server: ServerProcess;
  const auth = { authorization: 'Bearer k1' };
  before(async () => {
    server = await spawnServer(['--model', DEFAULT_MODEL, '--max-body-bytes', '65536'], { EDGEWISE_API_KEY: 'k1' });
  });
  after(() => server.stop());

  it('400 for bad JSON, bad types, out-of-range values, unimplemented features and over-long prompts', async () => {
    const chat = '/v1/chat/completions';
    assertOpenAiError(await call(server.url, chat, '{"messages": [', auth), 400, 'invalid_request_error');
    assertOpenAiError(await call(server.url, chat, { messages: 5 }, auth), 400, 'invalid_request_error');
    assertOpenAiError(await call(server.url, chat, { messages: [{ role: 'user', content: 'x' }], top_p: 0 }, auth), 400, 'invalid_request_error');
    const tools = await call(server.url, chat, { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }, auth);
    assertOpenAiError(tools, 400, 'invalid_request_error');
    assert.match(tools.json.error.message, /not implemented/);
    const long = await call(server.url, '/v1/completions', { prompt: 'word '.repeat(600), max_tokens: 4 }, auth);
    assertOpenAiError(long, 400, 'invalid_request_error');
    assert.match(long.json.error.message, /context length/);
  });

  it('401 without or with a wrong key; probes stay open', async () => {
    assertOpenAiError(await call(server.url, '/v1/models', undefined), 401, 'authentication_error');
    assertOpenAiError(await call(server.url, '/v1/models', undefined, { authorization: 'Bearer nope' }), 401, 'authentication_error');
    assert.equal((await call(server.url, '/health', undefined)).status, 200);
    assert.equal((await call(server.url, '/ready', undefined)).status, 200);
    assert.equal((await call(server.url, '/v1/models', undefined, auth)).status, 200);
  });

  it('404 for an unknown model and an unknown route', async () => {
    assertOpenAiError(await call(server.url, '/v1/completions', { model: 'gpt-5', prompt: 'x' }, auth), 404, 'not_found_error');
    assertOpenAiError(await call(server.url, '/v1/engines', undefined, auth), 404, 'not_found_error');
  });

  it('413 for a body over --max-body-bytes', async () => {
    assertOpenAiError(await call(server.url, '/v1/completions', { prompt: 'x'.repeat(70_000) }, auth), 413, 'invalid_request_error');
    assert.equal((await call(server.url, '/health', undefined)).status, 200, 'still serving');
  });

  it('a client disconnect frees the slot and stops generation', async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ prompt: 'The', max_tokens: 400, stream: true, logit_bias: NO_EOS }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    assert.equal((await stats(server.url, auth)).running, 1);
    abort.abort();
    let s = await stats(server.url, auth);
    for (let i = 0; i < 100 && (s.running > 0 || s.sessions > 0); i++) {
      await sleep(20);
      s = await stats(server.url, auth);
    }
    assert.deepEqual([s.running, s.waiting, s.sessions], [0, 0, 0]);
  });
});

describe('e2e: queue limit and drain', () => {
  it('429 past --max-queue; SIGTERM: /ready 503, new requests 503, running ones finish, exit 0', async () => {
    const server = await spawnServer(['--model', DEFAULT_MODEL, '--max-batch', '1', '--max-queue', '0']);
    try {
      const long = fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'The', max_tokens: 100, logit_bias: NO_EOS }) });
      for (let i = 0; i < 200 && (await stats(server.url)).running === 0; i++) await sleep(10);
      const refused = await call(server.url, '/v1/completions', { prompt: 'x', max_tokens: 2 });
      assertOpenAiError(refused, 429, 'overloaded');
      server.proc.kill('SIGTERM');
      let ready = await call(server.url, '/ready', undefined);
      for (let i = 0; i < 50 && ready.status === 200; i++) {
        await sleep(10);
        ready = await call(server.url, '/ready', undefined);
      }
      assert.equal(ready.status, 503);
      assertOpenAiError(await call(server.url, '/v1/completions', { prompt: 'x', max_tokens: 2 }), 503, 'unavailable_error');
      const done = await long;
      assert.equal(done.status, 200);
      const body = (await done.json()) as { usage: { completion_tokens: number } };
      assert.equal(body.usage.completion_tokens, 100);
      assert.equal(await server.exited, 0);
    } finally {
      await server.stop();
    }
  });
});
