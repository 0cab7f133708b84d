// Sends one streaming request over SSE (fetch) or WebSocket (the project's ws client) and times its chunks.

import { performance } from 'node:perf_hooks';
import { EdgewiseWsClient } from '../server/client/ws-client.js';
import type { RequestResult } from './stats.js';

export type Protocol = 'sse' | 'ws';
export type Endpoint = 'chat' | 'completion';

/** One request to send: the prompt text and the OpenAI body fields around it. */
export interface LoadRequest {
  prompt: string;
  maxTokens: number;
}

/** A request's outcome without its start offset (the runner adds that). */
export type SentResult = Omit<RequestResult, 'startMs'>;

export interface Transport {
  send(req: LoadRequest): Promise<SentResult>;
  close(): Promise<void>;
}

export interface TransportOptions {
  baseUrl: string;
  model: string;
  endpoint: Endpoint;
  apiKey?: string;
  /** Number of WebSocket connections requests are spread over (one per concurrent worker). */
  connections: number;
  /** Sampling temperature sent with every request. */
  temperature: number;
}

function requestBody(opts: TransportOptions, req: LoadRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: opts.model,
    max_tokens: req.maxTokens,
    temperature: opts.temperature,
    stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (opts.endpoint === 'chat') body.messages = [{ role: 'user', content: req.prompt }];
  else body.prompt = req.prompt;
  return body;
}

/** Collects chunk times: the first content chunk sets TTFT, later ones give inter-token gaps. */
class ChunkClock {
  private readonly t0 = performance.now();
  private last = 0;
  ttftMs: number | null = null;
  readonly itlMs: number[] = [];

  chunk(): void {
    const now = performance.now();
    if (this.ttftMs === null) this.ttftMs = now - this.t0;
    else this.itlMs.push(now - this.last);
    this.last = now;
  }

  elapsedMs(): number {
    return performance.now() - this.t0;
  }

  failed(error: string): SentResult {
    return { ok: false, error, ttftMs: this.ttftMs, itlMs: this.itlMs, e2eMs: this.elapsedMs(), promptTokens: 0, outputTokens: 0 };
  }
}

interface SseChunk {
  choices?: { delta?: { content?: string | null }; text?: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message: string; type: string };
}

export class SseTransport implements Transport {
  constructor(private readonly opts: TransportOptions) {}

  async send(req: LoadRequest): Promise<SentResult> {
    const clock = new ChunkClock();
    const path = this.opts.endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions';
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let usage: SseChunk['usage'] = null;
    try {
      const res = await fetch(this.opts.baseUrl + path, { method: 'POST', headers, body: JSON.stringify(requestBody(this.opts, req, true)) });
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => '');
        return clock.failed(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      }
      const decoder = new TextDecoder();
      let buffer = '';
      let done = false;
      for await (const bytes of res.body) {
        buffer += decoder.decode(bytes as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data: ')) continue; // ': ping' comments and blank lines
            const data = line.slice(6);
            if (data === '[DONE]') {
              done = true;
              continue;
            }
            const chunk = JSON.parse(data) as SseChunk;
            if (chunk.error) return clock.failed(`${chunk.error.type}: ${chunk.error.message}`);
            const choice = chunk.choices?.[0];
            const text = choice?.delta?.content ?? choice?.text ?? '';
            if (text.length > 0) clock.chunk();
            if (chunk.usage) usage = chunk.usage;
          }
        }
      }
      if (!done) return clock.failed('the stream ended without data: [DONE]');
    } catch (err) {
      return clock.failed((err as Error).message);
    }
    if (!usage) return clock.failed('no usage chunk (stream_options.include_usage ignored?)');
    return {
      ok: true,
      ttftMs: clock.ttftMs,
      itlMs: clock.itlMs,
      e2eMs: clock.elapsedMs(),
      promptTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
    };
  }

  async close(): Promise<void> {}
}

/** Requests spread round-robin over a few connections; the protocol multiplexes requests per socket. */
export class WsTransport implements Transport {
  private next = 0;
  private constructor(
    private readonly opts: TransportOptions,
    private readonly clients: EdgewiseWsClient[],
  ) {}

  static async open(opts: TransportOptions): Promise<WsTransport> {
    const url = opts.baseUrl.replace(/^http/, 'ws') + '/v1/ws';
    const clients = await Promise.all(
      Array.from({ length: Math.max(1, opts.connections) }, () => EdgewiseWsClient.connect(url, { apiKey: opts.apiKey })),
    );
    return new WsTransport(opts, clients);
  }

  async send(req: LoadRequest): Promise<SentResult> {
    const client = this.clients[this.next++ % this.clients.length];
    const clock = new ChunkClock();
    try {
      const stream = client.request(this.opts.endpoint, requestBody(this.opts, req, true));
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') {
          if (event.delta.length > 0) clock.chunk();
        } else if (event.type === 'error') {
          return clock.failed(`${event.error.type}: ${event.error.message}`);
        } else if (event.type === 'response.done') {
          if (event.status !== 'completed') return clock.failed(`response ${event.status}`);
          return {
            ok: true,
            ttftMs: clock.ttftMs,
            itlMs: clock.itlMs,
            e2eMs: clock.elapsedMs(),
            promptTokens: event.usage.prompt_tokens,
            outputTokens: event.usage.completion_tokens,
          };
        }
      }
      return clock.failed('the event stream ended without response.done');
    } catch (err) {
      return clock.failed((err as Error).message);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

export async function openTransport(protocol: Protocol, opts: TransportOptions): Promise<Transport> {
  return protocol === 'ws' ? WsTransport.open(opts) : new SseTransport(opts);
}
