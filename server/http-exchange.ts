// One HTTP request/response on uWebSockets.js: abort tracking, corked writes, capped body reads.

import type { HttpResponse } from 'uWebSockets.js';
import { mapError, PayloadTooLargeError, statusLine } from './error-map.js';
import type { ObserverSet } from './observer.js';

const JSON_TYPE = 'application/json';

/**
 * Wraps a uWS HttpResponse so that nothing touches it after the client went away (uWS crashes
 * the process on that) and every write outside a uWS callback is corked.
 */
export class HttpExchange {
  readonly res: HttpResponse;
  readonly method: string;
  readonly route: string;
  private readonly observers: ObserverSet;
  private readonly startMs = Date.now();
  private readonly abortListeners: (() => void)[] = [];
  private status = 0;
  aborted = false;
  finished = false;
  private backlogBytes = 0;
  private watchingWritable = false;
  /** Last time bytes went out, for SSE keep-alive pings. */
  lastWriteMs = Date.now();

  constructor(res: HttpResponse, method: string, route: string, observers: ObserverSet) {
    this.res = res;
    this.method = method;
    this.route = route;
    this.observers = observers;
    res.onAborted(() => {
      this.aborted = true;
      if (!this.finished) this.report(499);
      for (const listener of this.abortListeners.splice(0)) listener();
    });
  }

  /** Runs when the client disconnects before the response ended. */
  onAbort(listener: () => void): void {
    if (this.aborted) listener();
    else this.abortListeners.push(listener);
  }

  get open(): boolean {
    return !this.aborted && !this.finished;
  }

  private report(status: number): void {
    this.observers.onHttpResponse({ method: this.method, route: this.route, status, durationMs: Date.now() - this.startMs });
  }

  /** Sends a complete response. `closeConnection` for answers given before the body was read. */
  send(status: number, contentType: string, body: string, closeConnection = false): void {
    if (!this.open) return;
    this.finished = true;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).end(body, closeConnection);
    });
    this.report(status);
  }

  json(status: number, body: unknown): void {
    this.send(status, JSON_TYPE, JSON.stringify(body));
  }

  /** Answers with the OpenAI error object for `err`. */
  error(err: unknown): void {
    const mapped = mapError(err);
    if (this.open) this.observers.onRejected({ type: mapped.body.error.type, status: mapped.status, transport: 'http' });
    // An oversized body is left unread, so the connection cannot carry another request.
    this.send(mapped.status, JSON_TYPE, JSON.stringify(mapped.body), err instanceof PayloadTooLargeError);
  }

  /** Writes the status and headers of a streamed response; the body follows through write(). */
  beginStream(contentType: string): void {
    if (!this.open) return;
    this.status = 200;
    this.res.cork(() => {
      this.res
        .writeStatus(statusLine(200))
        .writeHeader('content-type', contentType)
        .writeHeader('cache-control', 'no-cache')
        .writeHeader('x-accel-buffering', 'no');
      // Flush the headers now so clients see the stream start (and pings) before the first token.
      this.res.write('');
    });
    this.lastWriteMs = Date.now();
  }

  /**
   * Streams a chunk. uWS buffers what the socket cannot take; past `maxBacklogBytes` of such
   * backlog the client is reading too slowly, and the connection is closed (which aborts the
   * request and frees its engine slot) rather than buffering without bound.
   */
  write(chunk: string, maxBacklogBytes = Infinity): void {
    if (!this.open) return;
    let sent = true;
    this.res.cork(() => {
      sent = this.res.write(chunk);
    });
    this.lastWriteMs = Date.now();
    if (sent) return;
    this.backlogBytes += Buffer.byteLength(chunk);
    if (!this.watchingWritable) {
      this.watchingWritable = true;
      this.res.onWritable(() => {
        this.backlogBytes = 0;
        this.watchingWritable = false;
        return true;
      });
    }
    if (this.backlogBytes > maxBacklogBytes) this.res.close();
  }

  end(chunk = ''): void {
    if (!this.open) return;
    this.finished = true;
    this.res.cork(() => {
      this.res.end(chunk);
    });
    this.report(this.status || 200);
  }

  /**
   * Reads the whole body, refusing more than `maxBytes` (413, then the connection closes because
   * the rest of the upload is never read). Must be called synchronously inside the route handler.
   */
  readBody(maxBytes: number, contentLength: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const declared = contentLength === '' ? NaN : Number(contentLength);
      if (declared > maxBytes) {
        reject(new PayloadTooLargeError(maxBytes));
        return;
      }
      const parts: Buffer[] = [];
      let total = 0;
      let refused = false;
      this.res.onData((chunk, isLast) => {
        if (refused) return;
        total += chunk.byteLength;
        if (total > maxBytes) {
          refused = true;
          reject(new PayloadTooLargeError(maxBytes));
          return;
        }
        // uWS neuters the ArrayBuffer after this callback, so copy it.
        parts.push(Buffer.from(chunk.slice(0)));
        if (isLast) resolve(Buffer.concat(parts, total));
      });
      this.onAbort(() => reject(new Error('client aborted while sending the body')));
    });
  }
}
