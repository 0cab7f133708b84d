// GET /metrics on the server's own port: the Prometheus text of ServerMetrics, as an EdgewiseServer extra route.

import type { ExtraRoute } from '../app.js';
import { METRICS_CONTENT_TYPE, type ServerMetrics } from './metrics.js';

/** Pass in EdgewiseServer's `extraRoutes`. No API key: Prometheus scrapers do not carry one. */
export function metricsRoute(metrics: ServerMetrics): ExtraRoute {
  return {
    path: '/metrics',
    auth: false,
    handler: async (ex) => {
      const text = await metrics.scrape();
      ex.send(200, METRICS_CONTENT_TYPE, text);
    },
  };
}
