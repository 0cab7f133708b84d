// Shared helpers for server tests: start a server on an ephemeral port, parse SSE bodies.

import { pino } from 'pino';
import { EdgewiseServer, type ServerOptions } from './app.js';

export interface TestServer {
  server: EdgewiseServer;
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(options: ServerOptions): Promise<TestServer> {
  const server = new EdgewiseServer({ logger: pino({ level: 'silent' }), ...options });
  const port = await server.listen('127.0.0.1', 0);
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.close();
      await options.engine.close();
    },
  };
}

/** Splits an SSE body into its `data:` payloads (JSON-parsed, except the final "[DONE]") and comments. */
export function parseSse(body: string): { events: (Record<string, unknown> | '[DONE]')[]; comments: string[] } {
  const events: (Record<string, unknown> | '[DONE]')[] = [];
  const comments: string[] = [];
  for (const block of body.split('\n\n')) {
    if (block.trim() === '') continue;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('data: ')) {
        const data = line.slice(6);
        events.push(data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Record<string, unknown>));
      }
    }
  }
  return { events, comments };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // SSE or empty bodies stay as text.
  }
  return { status: res.status, json, text };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}
