// Builds the uWebSockets.js app: routes, auth, error mapping, WebSocket, listen, drain and close.

import { basename } from 'node:path';
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { pino, type Logger } from 'pino';
import { EdgewiseError, isEdgewiseError } from '../runtime/errors.js';
import { checkApiKey } from './auth.js';
import type { ServingEngine } from './engine-port.js';
import { RouteNotFoundError } from './error-map.js';
import { HttpExchange } from './http-exchange.js';
import { ObserverSet, type RequestObserver } from './observer.js';
import { requestLogObserver } from './request-log.js';
import { handleGeneration } from './routes-generation.js';
import { getBudget, setBudget } from './routes-admin.js';
import { detokenize, engineStats, getModel, health, listModels, ready, tokenize } from './routes-info.js';
import type { ServerContext } from './server-context.js';
import { registerWebSocket } from './ws-handler.js';

export interface ServerOptions {
  engine: ServingEngine;
  /** Overrides engine.modelId (itself the model folder/file basename). */
  modelId?: string;
  apiKey?: string | null;
  maxBodyBytes?: number;
  /** Seconds; null or 0 means no deadline. */
  requestTimeoutSec?: number | null;
  pingIntervalMs?: number;
  wsHighWaterBytes?: number;
  maxPendingBytes?: number;
  logger?: Logger;
  /** Metrics/tracing hooks (server/observability registers here). */
  observers?: RequestObserver[];
  /** Extra GET routes (e.g. /metrics), registered before the catch-all 404. */
  extraRoutes?: ExtraRoute[];
}

export interface ExtraRoute {
  path: string;
  /** Whether the API key is required (false for scrapers and probes). */
  auth: boolean;
  handler: (ex: HttpExchange) => void | Promise<void>;
}

/** uWS's listen option (exported by uws.js, missing from its typings). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

type Handler = (ex: HttpExchange, body: Buffer | null, param: string) => void | Promise<void>;

export class EdgewiseServer {
  readonly app: TemplatedApp;
  readonly ctx: ServerContext;
  private listenSocket: us_listen_socket | null = null;
  port = 0;

  constructor(options: ServerOptions) {
    const logger = options.logger ?? pino({ level: 'info' });
    this.ctx = {
      engine: options.engine,
      modelId: options.modelId ?? options.engine.modelId,
      apiKey: options.apiKey ?? null,
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutSec ? options.requestTimeoutSec * 1000 : null,
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      wsHighWaterBytes: options.wsHighWaterBytes ?? 256 * 1024,
      maxPendingBytes: options.maxPendingBytes ?? 4 * 1024 * 1024,
      observers: new ObserverSet([requestLogObserver(logger), ...(options.observers ?? [])], (err) => logger.warn({ err }, 'request observer failed')),
      logger,
      draining: false,
      sessions: new Set(),
      createdAt: Math.floor(Date.now() / 1000),
    };
    this.app = uWS.App();
    this.registerRoutes(options.extraRoutes ?? []);
  }

  private route(method: 'get' | 'post', pattern: string, opts: { auth: boolean; body: boolean }, handler: Handler): void {
    const ctx = this.ctx;
    this.app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
      const ex = new HttpExchange(res, method, pattern, ctx.observers);
      // HttpRequest is only valid synchronously: read everything we need now.
      const authorization = req.getHeader('authorization');
      const contentLength = req.getHeader('content-length');
      const param = pattern.includes(':') ? req.getParameter(0) ?? '' : '';
      const fail = (err: unknown): void => {
        if (!isEdgewiseError(err) && !ex.aborted) ctx.logger.error({ err, route: pattern }, 'request handler failed');
        ex.error(err);
      };
      try {
        if (opts.auth) checkApiKey(ctx.apiKey, authorization);
        const bodyPromise = opts.body ? ex.readBody(ctx.maxBodyBytes, contentLength) : Promise.resolve(null);
        bodyPromise.then((body) => handler(ex, body, param)).catch(fail);
      } catch (err) {
        fail(err);
      }
    });
  }

  private registerRoutes(extra: ExtraRoute[]): void {
    const ctx = this.ctx;
    const api = { auth: true, body: false };
    const apiBody = { auth: true, body: true };
    const open = { auth: false, body: false };
    this.route('get', '/health', open, (ex) => health(ex));
    this.route('get', '/ready', open, (ex) => ready(ctx, ex));
    this.route('get', '/v1/models', api, (ex) => listModels(ctx, ex));
    this.route('get', '/v1/models/:id', api, (ex, _b, id) => getModel(ctx, ex, id));
    this.route('get', '/v1/edgewise/stats', api, (ex) => engineStats(ctx, ex));
    this.route('post', '/v1/chat/completions', apiBody, (ex, body) => handleGeneration(ctx, ex, 'chat', body!));
    this.route('post', '/v1/completions', apiBody, (ex, body) => handleGeneration(ctx, ex, 'completion', body!));
    this.route('post', '/tokenize', apiBody, (ex, body) => tokenize(ctx, ex, body!));
    this.route('post', '/detokenize', apiBody, (ex, body) => detokenize(ctx, ex, body!));
    this.route('get', '/admin/budget', api, (ex) => getBudget(ctx, ex));
    this.route('post', '/admin/budget', apiBody, (ex, body) => setBudget(ctx, ex, body!));
    registerWebSocket(this.app, ctx);
    for (const r of extra) this.route('get', r.path, { auth: r.auth, body: false }, (ex) => r.handler(ex));
    this.app.any('/*', (res, req) => {
      const ex = new HttpExchange(res, req.getMethod(), 'unmatched', ctx.observers);
      ex.error(new RouteNotFoundError(req.getMethod(), req.getUrl()));
    });
  }

  /** Listens; port 0 picks a free port. Resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // NOTE: uWS shares ports (SO_REUSEPORT) unless told otherwise, so a second server on a busy
      // port would silently split the traffic; LIBUS_LISTEN_EXCLUSIVE_PORT makes it fail instead.
      const listen = this.app.listen as unknown as (h: string, p: number, options: number, cb: (s: us_listen_socket | false) => void) => void;
      listen.call(this.app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) {
          reject(new EdgewiseError('unavailable', `cannot listen on ${host}:${port} (address in use or not available)`));
          return;
        }
        this.listenSocket = socket;
        this.port = uWS.us_socket_local_port(socket);
        resolve(this.port);
      });
    });
  }

  /**
   * Graceful drain: /ready turns 503, new requests get 503, running requests finish.
   * Resolves when the engine and every open response are done, or after `graceMs`.
   */
  async drain(graceMs = 60_000): Promise<void> {
    this.ctx.draining = true;
    const deadline = Date.now() + graceMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ctx.engine.drain(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    while (this.ctx.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops listening and closes every connection (the engine is the caller's to close). */
  close(): void {
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    this.app.close();
  }
}

/** The default model id: the model folder's or container file's basename. */
export function modelIdFromPath(modelPath: string): string {
  return basename(modelPath.replace(/[\\/]+$/, '')).replace(/\.ewm$/, '');
}
