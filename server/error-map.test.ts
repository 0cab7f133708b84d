// Every error kind maps to one OpenAI error type and HTTP status; unknown throws become opaque 500s.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EdgewiseError, InvalidRequestError, type ErrorKind } from '../runtime/errors.js';
import { AuthenticationError, mapEngineFailure, mapError, PayloadTooLargeError } from './error-map.js';

it('maps each error kind to its status and type', () => {
  const table: [ErrorKind, number, string][] = [
    ['invalid_request', 400, 'invalid_request_error'],
    ['not_found', 404, 'not_found_error'],
    ['queue_full', 429, 'overloaded'],
    ['unavailable', 503, 'unavailable_error'],
    ['budget', 503, 'unavailable_error'],
    ['timeout', 504, 'timeout_error'],
    ['model_format', 500, 'server_error'],
    ['unsupported_model', 500, 'server_error'],
    ['engine_fatal', 500, 'server_error'],
  ];
  for (const [kind, status, type] of table) {
    const mapped = mapError(new EdgewiseError(kind, `boom ${kind}`, { param: 'p' }));
    assert.equal(mapped.status, status, kind);
    assert.equal(mapped.body.error.type, type, kind);
    assert.equal(mapped.body.error.message, `boom ${kind}`);
    assert.ok(mapped.statusLine.startsWith(`${status} `));
  }
  assert.equal(mapError(new InvalidRequestError('bad', 'temperature')).body.error.param, 'temperature');
});

it('maps the server-only errors and hides internal ones', () => {
  assert.equal(mapError(new AuthenticationError('no key')).status, 401);
  assert.equal(mapError(new AuthenticationError('no key')).body.error.type, 'authentication_error');
  assert.equal(mapError(new PayloadTooLargeError(10)).status, 413);
  const internal = mapError(new TypeError('secret stack detail'));
  assert.equal(internal.status, 500);
  assert.doesNotMatch(internal.body.error.message, /secret/);
  assert.equal(mapEngineFailure({ kind: 'queue_full', message: 'full' }).status, 429);
  assert.equal(mapEngineFailure({ kind: 'weird', message: 'x' }).status, 500);
  assert.equal(mapEngineFailure(undefined).status, 500);
});
