// GET /metrics on the server's own port: the Prometheus text of ServerMetrics.

import type { TemplatedApp } from 'uWebSockets.js';
import { HttpExchange } from '../http-exchange.js';
import type { ServerContext } from '../server-context.js';
import { METRICS_CONTENT_TYPE, type ServerMetrics } from './metrics.js';

/** Registers the route; pass as (part of) EdgewiseServer's `registerRoutes` option. */
export function registerMetricsRoute(app: TemplatedApp, ctx: ServerContext, metrics: ServerMetrics): void {
  app.get('/metrics', (res) => {
    const ex = new HttpExchange(res, 'get', '/metrics', ctx.observers);
    metrics
      .scrape()
      .then((text) => ex.send(200, METRICS_CONTENT_TYPE, text))
      .catch((err: unknown) => {
        ctx.logger.error({ err }, 'metrics scrape failed');
        ex.error(err);
      });
  });
}
