// End to end: `edgewise serve --memory-budget` on a calibrated container; edgewise wishes, choices in responses, admin budget.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { writeCalibration } from '../runtime/calibration/ewm-calibration-store.js';
import { parseSse, postJson } from '../server/test-helpers.js';
import { DEFAULT_MODEL, noEosBias, spawnServer, type ServerProcess } from './e2e-server.js';

const KEY = 'adaptive-key';
const auth = { authorization: `Bearer ${KEY}` };
const work = mkdtempSync(join(tmpdir(), 'adaptive-serving-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const post = (url: string, body: object, headers: Record<string, string> = auth) => postJson(url, body, headers);

describe('adaptive serving over HTTP and WebSocket', () => {
  let server: ServerProcess;
  const chat = (extra: object) => ({ messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 6, temperature: 0, logit_bias: noEosBias(), ...extra });
  before(async () => {
    const ewm = join(work, 'default.ewm');
    convertToEwm(DEFAULT_MODEL, ewm);
    writeCalibration(ewm, {
      layerImportance: { method: 'block-influence', scores: [0.1, 0.12, 0.16, 0.17, 0.13, 0.14], ranking: [3, 2, 5, 4, 1, 0], numTokens: 1 },
      qualityTables: { numTokens: 1, windowTokens: 1, points: [6, 5, 4, 3, 2, 1].map((depth) => ({ depth, precision: 'bf16', perplexity: 10 + 0.5 * (6 - depth) })) },
    });
    server = await spawnServer(['--model', ewm, '--api-key', KEY, '--memory-budget', '9MiB', '--quality', 'fast']);
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  it('JSON responses carry the governor choice; wishes raise the depth', async () => {
    const def = await post(`${server.url}/v1/chat/completions`, chat({}));
    assert.equal(def.status, 200, def.text);
    assert.equal(def.json.edgewise.depth, 3); // 9 MiB holds three decoded blocks
    assert.equal(def.json.edgewise.precision, 'bf16');
    assert.match(def.json.edgewise.why, /memory/);
    const exact = await post(`${server.url}/v1/completions`, { prompt: 'The sea', max_tokens: 4, edgewise: { quality: 'exact' } });
    assert.equal(exact.status, 200, exact.text);
    assert.equal(exact.json.edgewise.depth, 6);
    const minDepth = await post(`${server.url}/v1/chat/completions`, chat({ edgewise: { quality: 'fast', min_depth: 5 } }));
    assert.equal(minDepth.json.edgewise.depth, 5);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    assert.match(metrics, /request_precision_total\{[^}]*precision="bf16"[^}]*\} 3/, metrics.slice(0, 2000));
    assert.match(metrics, /depth_layers\{[^}]*\} 5/);
    // Every rung can be asked for by name; the choice says which ran. Unknown rungs are a 400 at the edge.
    const e8m1 = await post(`${server.url}/v1/chat/completions`, chat({ edgewise: { quality: 'exact', precision: 'e8m1' } }));
    assert.equal(e8m1.status, 200, e8m1.text);
    assert.deepEqual([e8m1.json.edgewise.depth, e8m1.json.edgewise.precision], [6, 'e8m1']);
    const e8m3 = await post(`${server.url}/v1/completions`, { prompt: 'The sea', max_tokens: 4, edgewise: { precision: 'e8m3' } });
    assert.equal(e8m3.json.edgewise.precision, 'e8m3');
    const unknown = await post(`${server.url}/v1/chat/completions`, chat({ edgewise: { precision: 'fp4' } }));
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.json.error.message, /bf16.*e8m3.*e8m1/);
    const after = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    assert.match(after, /request_precision_total\{[^}]*precision="e8m1"[^}]*\} 1/);
  });

  it('SSE: the finish chunk carries edgewise; WebSocket: response.done does', async () => {
    const sse = await post(`${server.url}/v1/chat/completions`, chat({ stream: true, edgewise: { quality: 'high' } }));
    const finish = parseSse(sse.text).events.find((e) => e !== '[DONE]' && (e.choices as { finish_reason: string | null }[])[0]?.finish_reason) as Record<string, any>;
    assert.equal(finish.edgewise.depth, 5); // high: perplexity within 5% of full depth → floor 5
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: `Bearer ${KEY}` } });
    const done = await new Promise<Record<string, any>>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'response.create', id: 'w1', endpoint: 'chat', request: chat({ edgewise: { quality: 'exact' } }) })));
      ws.on('message', (data) => {
        const ev = JSON.parse(data.toString()) as Record<string, any>;
        if (ev.type === 'response.done' || ev.type === 'error') resolve(ev);
      });
      ws.on('error', reject);
    });
    ws.close();
    assert.equal(done.type, 'response.done', JSON.stringify(done));
    assert.equal(done.edgewise.depth, 6);
  });

  it('admin budget: auth, bad input, a cut takes effect at once, unmeetable wishes get 503 memory_budget', async () => {
    assert.equal((await post(`${server.url}/admin/budget`, { budget: '1MiB' }, {})).status, 401);
    assert.equal((await post(`${server.url}/admin/budget`, { budget: 'lots' })).status, 400);
    const cut = await post(`${server.url}/admin/budget`, { budget: '1MiB' });
    assert.equal(cut.status, 200, cut.text);
    assert.equal(cut.json.budgetBytes, 1024 ** 2);
    assert.equal(cut.json.cache.entries, 0);
    const refused = await post(`${server.url}/v1/completions`, { prompt: 'The sea', max_tokens: 400, edgewise: { quality: 'exact' } });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.error.code, 'memory_budget');
    assert.match(refused.json.error.message, /memory budget cannot serve this request/);
    const small = await post(`${server.url}/v1/chat/completions`, chat({}));
    assert.equal(small.status, 200);
    assert.ok(small.json.edgewise.depth < 6);
    const bad = await post(`${server.url}/v1/chat/completions`, chat({ edgewise: { quality: 'best' } }));
    assert.equal(bad.status, 400);
    assert.equal((await post(`${server.url}/admin/budget`, { budget: '512MB' })).json.budgetBytes, 512e6);
  });
});
