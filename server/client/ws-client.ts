// TypeScript client for Edgewise's /v1/ws protocol (JSON or msgpack frames); needs only ws and msgpackr.

import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import type { WsClientMessage, WsEndpoint, WsServerEvent, WsUsage } from './ws-protocol-types.js';

export type { WsServerEvent, WsEndpoint, WsUsage } from './ws-protocol-types.js';

export type WsMode = 'json' | 'msgpack';

export interface WsClientOptions {
  /** Frame encoding for this connection's requests (the server answers in kind). Default 'json'. */
  mode?: WsMode;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

/** What collect() gathers from one request's events. */
export interface WsResult {
  id: string;
  status: 'completed' | 'cancelled' | 'failed';
  /** Text per choice index. */
  texts: string[];
  finishReasons: ('stop' | 'length' | null)[];
  usage: WsUsage | null;
  error: { message: string; type: string; param: string | null; code: string | null } | null;
  events: WsServerEvent[];
}

const packr = new Packr({ useRecords: false });

function isTerminal(event: WsServerEvent): boolean {
  return event.type === 'response.done' || event.type === 'error';
}

/** One request's event stream; async-iterate it, or collect() it. */
export class WsRequest implements AsyncIterable<WsServerEvent> {
  readonly id: string;
  private readonly client: EdgewiseWsClient;
  private readonly buffered: WsServerEvent[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;

  constructor(client: EdgewiseWsClient, id: string) {
    this.client = client;
    this.id = id;
  }

  /** @internal */
  push(event: WsServerEvent): void {
    this.buffered.push(event);
    if (isTerminal(event)) this.ended = true;
    this.wake();
  }

  /** @internal the connection closed before the request ended. */
  abort(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** Asks the server to stop this request; its stream then ends with response.done (cancelled). */
  cancel(): void {
    this.client.send({ type: 'response.cancel', id: this.id });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WsServerEvent> {
    for (;;) {
      if (this.buffered.length > 0) {
        const event = this.buffered.shift()!;
        yield event;
        if (isTerminal(event)) return;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Reads the stream to its end and summarizes it. */
  async collect(): Promise<WsResult> {
    const result: WsResult = { id: this.id, status: 'failed', texts: [], finishReasons: [], usage: null, error: null, events: [] };
    for await (const event of this) {
      result.events.push(event);
      if (event.type === 'response.created') {
        result.texts = new Array<string>(event.num_choices).fill('');
        result.finishReasons = new Array(event.num_choices).fill(null);
      } else if (event.type === 'response.output_text.delta') {
        result.texts[event.choice] = (result.texts[event.choice] ?? '') + event.delta;
      } else if (event.type === 'response.output_text.done') {
        result.finishReasons[event.choice] = event.finish_reason;
      } else if (event.type === 'response.done') {
        result.status = event.status;
        result.usage = event.usage;
      } else if (event.type === 'error') {
        result.status = 'failed';
        result.error = event.error;
      }
    }
    return result;
  }
}

export class EdgewiseWsClient {
  private readonly socket: WebSocket;
  readonly mode: WsMode;
  private readonly requests = new Map<string, WsRequest>();
  private nextId = 1;
  /** Errors the server could not attach to a request (e.g. an undecodable frame). */
  readonly connectionErrors: WsServerEvent[] = [];

  private constructor(socket: WebSocket, mode: WsMode) {
    this.socket = socket;
    this.mode = mode;
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onFrame(data, isBinary));
    socket.on('close', () => {
      for (const request of this.requests.values()) request.abort(new Error('the WebSocket closed before the request ended'));
      this.requests.clear();
    });
  }

  /** Opens a connection to `url` (e.g. ws://127.0.0.1:8080/v1/ws). */
  static connect(url: string, options: WsClientOptions = {}): Promise<EdgewiseWsClient> {
    const headers: Record<string, string> = {};
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    const socket = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new EdgewiseWsClient(socket, options.mode ?? 'json')));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** The underlying ws socket (tests pause it to play a slow reader). */
  get raw(): WebSocket {
    return this.socket;
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const event = (isBinary ? packr.unpack(bytes) : JSON.parse(bytes.toString('utf8'))) as WsServerEvent;
    const request = event.id === null ? undefined : this.requests.get(event.id);
    if (!request) {
      this.connectionErrors.push(event);
      return;
    }
    if (isTerminal(event)) this.requests.delete(event.id!);
    request.push(event);
  }

  /** @internal sends one protocol message in this connection's encoding. */
  send(message: WsClientMessage | Record<string, unknown>): void {
    if (this.mode === 'msgpack') this.socket.send(packr.pack(message), { binary: true });
    else this.socket.send(JSON.stringify(message), { binary: false });
  }

  /** Starts a chat or completion request (an OpenAI request body); ids default to r1, r2, … */
  request(endpoint: WsEndpoint, body: Record<string, unknown>, id = `r${this.nextId++}`): WsRequest {
    const request = new WsRequest(this, id);
    this.requests.set(id, request);
    this.send({ type: 'response.create', id, endpoint, request: body });
    return request;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
