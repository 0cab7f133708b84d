// The per-socket outbox: direct sends under the high-water mark, merged deltas above it, a byte cap.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WsServerEvent } from './client/ws-protocol-types.js';
import { packr, WsOutbox, type OutboxSocket } from './ws-outbox.js';

class FakeSocket implements OutboxSocket {
  buffered = 0;
  sent: WsServerEvent[] = [];
  send(message: Uint8Array | string, isBinary?: boolean): number {
    this.sent.push(isBinary ? packr.unpack(message as Uint8Array) : JSON.parse(message as string));
    return 1;
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  cork(cb: () => void): unknown {
    cb();
    return this;
  }
}

function delta(id: string, choice: number, text: string, tokenId: number): WsServerEvent {
  return { type: 'response.output_text.delta', id, choice, delta: text, token_ids: [tokenId], logprobs: null };
}

it('sends at once, then queues and merges deltas while the socket is backed up', () => {
  const socket = new FakeSocket();
  const overflowed: string[] = [];
  const outbox = new WsOutbox(socket, { highWaterBytes: 1000, maxPendingBytes: 1 << 20, onOverflow: (id) => overflowed.push(id) });
  outbox.send(delta('a', 0, 'x', 1), false);
  assert.equal(socket.sent.length, 1);
  socket.buffered = 5000;
  const words = Array.from({ length: 50 }, (_, i) => `w${i * 7919 % 97} `);
  words.forEach((w, i) => outbox.send(delta('a', 0, w, i + 2), i % 2 === 0));
  outbox.send(delta('b', 0, 'other', 99), false);
  assert.equal(socket.sent.length, 1, 'nothing more goes out while backed up');
  socket.buffered = 0;
  outbox.flush();
  assert.equal(socket.sent.length, 3, 'one merged delta for a, one for b');
  const merged = socket.sent[1] as Extract<WsServerEvent, { type: 'response.output_text.delta' }>;
  assert.equal(merged.delta, words.join(''));
  assert.deepEqual(merged.token_ids, words.map((_, i) => i + 2));
  assert.equal(outbox.queuedBytes, 0);
  assert.deepEqual(overflowed, []);
});

it('ends the request that would pass the byte cap and keeps the others', () => {
  const socket = new FakeSocket();
  const overflowed: string[] = [];
  const outbox = new WsOutbox(socket, { highWaterBytes: 10, maxPendingBytes: 4096, onOverflow: (id) => overflowed.push(id) });
  socket.buffered = 100;
  outbox.send(delta('small', 0, 'hi', 1), false);
  for (let i = 0; i < 20; i++) outbox.send(delta('big', 0, 'z'.repeat(500), i), false);
  assert.deepEqual(overflowed, ['big']);
  assert.ok(outbox.queuedBytes <= 4096);
  socket.buffered = 0;
  outbox.flush();
  assert.ok(socket.sent.some((e) => e.id === 'small'));
});
