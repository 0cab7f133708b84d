// Bearer-token check for API routes (--api-key / EDGEWISE_API_KEY).

import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from './error-map.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Throws AuthenticationError unless `authorization` is `Bearer <apiKey>` (or, for WebSocket
 * clients that cannot set headers, `queryKey` equals it). Does nothing when no key is configured.
 */
export function checkApiKey(apiKey: string | null, authorization: string, queryKey = ''): void {
  if (apiKey === null) return;
  const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  const given = match ? match[1].trim() : queryKey;
  if (given === '') throw new AuthenticationError('missing API key: send "Authorization: Bearer <key>"');
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  if (!timingSafeEqual(digest(given), digest(apiKey))) throw new AuthenticationError('incorrect API key');
}
