// One pino line per finished request with its timings (a RequestObserver like the metrics ones).

import type { Logger } from 'pino';
import type { RequestObserver } from './observer.js';

export function requestLogObserver(logger: Logger): RequestObserver {
  return {
    onDone(info) {
      const line = {
        reqId: info.reqId,
        endpoint: info.endpoint,
        transport: info.transport,
        status: info.status,
        finishReasons: info.finishReasons,
        promptTokens: info.promptTokens,
        completionTokens: info.completionTokens,
        queueMs: info.queueMs,
        ttftMs: info.ttftMs,
        totalMs: info.totalMs,
        error: info.error,
        edgewise: info.adaptive,
      };
      if (info.status === 'error') logger.warn(line, 'request failed');
      else logger.info(line, 'request finished');
    },
  };
}
