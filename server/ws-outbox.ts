// Per-WebSocket send queue: pauses on backpressure, merges queued deltas, and bounds queued bytes.

import { Packr } from 'msgpackr';
import type { WsServerEvent } from './client/ws-protocol-types.js';

/** The few WebSocket methods the outbox uses (uWS's WebSocket has them; tests pass a fake). */
export interface OutboxSocket {
  send(message: Uint8Array | string, isBinary?: boolean): number;
  getBufferedAmount(): number;
  cork(cb: () => void): unknown;
}

// NOTE: plain maps, not msgpackr's record extension, so clients in any language can decode frames.
export const packr = new Packr({ useRecords: false });

interface Pending {
  event: WsServerEvent;
  binary: boolean;
  /** Rough encoded size, for the byte cap. */
  bytes: number;
}

function estimateBytes(event: WsServerEvent): number {
  if (event.type !== 'response.output_text.delta') return 256;
  return 96 + event.delta.length * 3 + event.token_ids.length * 5 + (event.logprobs ? JSON.stringify(event.logprobs).length : 0);
}

/**
 * NOTE: the engine cannot pause one sequence, so a slow reader's tokens still arrive; they wait
 * here, consecutive deltas of one choice merged into one event. Past `maxPendingBytes` the request
 * that would overflow is ended (its queued deltas dropped, `onOverflow` cancels it and queues an
 * error), so memory stays bounded and the socket's other requests and other sockets go on.
 */
export class WsOutbox {
  private readonly socket: OutboxSocket;
  private readonly highWaterBytes: number;
  private readonly maxPendingBytes: number;
  private readonly onOverflow: (requestId: string) => void;
  private queue: Pending[] = [];
  private pendingBytes = 0;
  /** Requests ended for overflowing, until their terminal event goes through. */
  private readonly overflowed = new Set<string>();
  closed = false;

  constructor(socket: OutboxSocket, options: { highWaterBytes: number; maxPendingBytes: number; onOverflow: (requestId: string) => void }) {
    this.socket = socket;
    this.highWaterBytes = options.highWaterBytes;
    this.maxPendingBytes = options.maxPendingBytes;
    this.onOverflow = options.onOverflow;
  }

  get queuedBytes(): number {
    return this.pendingBytes;
  }

  send(event: WsServerEvent, binary: boolean): void {
    if (this.closed) return;
    // Deltas still in flight from the engine for a request ended by overflow are dropped.
    if (event.type === 'response.output_text.delta' && this.overflowed.has(event.id)) return;
    if (event.type !== 'response.output_text.delta') this.overflowed.delete(event.id ?? '');
    if (this.queue.length === 0 && this.socket.getBufferedAmount() < this.highWaterBytes) {
      this.write(event, binary);
      return;
    }
    if (this.mergeIntoTail(event)) return;
    const bytes = estimateBytes(event);
    if (event.type === 'response.output_text.delta' && this.pendingBytes + bytes > this.maxPendingBytes) {
      this.dropRequest(event.id);
      this.overflowed.add(event.id);
      this.onOverflow(event.id);
      return;
    }
    this.queue.push({ event, binary, bytes });
    this.pendingBytes += bytes;
  }

  /** Called from uWS's drain handler: send what fits under the high-water mark. */
  flush(): void {
    if (this.closed) return;
    this.socket.cork(() => {
      while (this.queue.length > 0 && this.socket.getBufferedAmount() < this.highWaterBytes) {
        const next = this.queue.shift()!;
        this.pendingBytes -= next.bytes;
        this.writeRaw(next.event, next.binary);
      }
    });
  }

  /** Forgets everything queued for one request (it was cancelled or failed). */
  dropRequest(requestId: string): void {
    this.queue = this.queue.filter((p) => {
      if (p.event.id !== requestId) return true;
      this.pendingBytes -= p.bytes;
      return false;
    });
  }

  private mergeIntoTail(event: WsServerEvent): boolean {
    const tail = this.queue[this.queue.length - 1];
    if (!tail || tail.event.type !== 'response.output_text.delta' || event.type !== 'response.output_text.delta') return false;
    if (tail.event.id !== event.id || tail.event.choice !== event.choice) return false;
    const added = estimateBytes(event) - 96;
    if (this.pendingBytes + added > this.maxPendingBytes) return false;
    tail.event.delta += event.delta;
    tail.event.token_ids.push(...event.token_ids);
    if (event.logprobs) tail.event.logprobs = [...(tail.event.logprobs ?? []), ...event.logprobs];
    tail.bytes += added;
    this.pendingBytes += added;
    return true;
  }

  private write(event: WsServerEvent, binary: boolean): void {
    this.socket.cork(() => this.writeRaw(event, binary));
  }

  private writeRaw(event: WsServerEvent, binary: boolean): void {
    if (binary) this.socket.send(packr.pack(event), true);
    else this.socket.send(JSON.stringify(event), false);
  }
}
