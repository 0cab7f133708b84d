// The server logger: level filtering, the model on every line, errors with their cause chain.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createServerLogger, parseLogLevel } from './logger.js';
import { requestLogObserver } from '../request-log.js';

function capture(): { stream: Writable; lines: () => Record<string, any>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)) };
}

test('--log-level values are validated', () => {
  assert.equal(parseLogLevel('WARN'), 'warn');
  assert.throws(() => parseLogLevel('loud'), RangeError);
});

test('one JSON line per finished request, with the model, at info; lower levels filtered', () => {
  const out = capture();
  const logger = createServerLogger({ level: 'info', model: 'default', destination: out.stream });
  logger.debug('hidden');
  requestLogObserver(logger).onDone!({
    reqId: 'chatcmpl-1', endpoint: 'chat', transport: 'sse', status: 'ok', finishReasons: ['stop'],
    promptTokens: 12, completionTokens: 7, ttftMs: 40, totalMs: 120, queueMs: 3,
  });
  const lines = out.lines();
  assert.equal(lines.length, 1);
  const line = lines[0];
  assert.equal(line.level, 30);
  assert.equal(line.model, 'default');
  assert.equal(line.reqId, 'chatcmpl-1');
  assert.equal(line.completionTokens, 7);
  assert.equal(line.ttftMs, 40);
  assert.equal(line.totalMs, 120);
  assert.deepEqual(line.finishReasons, ['stop']);
});

test('errors are logged with their cause chain', () => {
  const out = capture();
  const logger = createServerLogger({ level: 'warn', destination: out.stream });
  const cause = new Error('ENOSPC: no space left on device');
  logger.error({ err: new Error('could not write the KV cache', { cause }) }, 'engine step failed');
  const [line] = out.lines();
  assert.equal(line.level, 50);
  assert.match(line.err.message, /could not write the KV cache/);
  assert.match(JSON.stringify(line.err), /ENOSPC: no space left on device/);
});
