// Admin routes of adaptive serving: read or change the memory budget while serving (auth like the API).

import { z } from 'zod';
import { EdgewiseError } from '../runtime/errors.js';
import { parseBytes } from '../runtime/memory/budget.js';
import type { HttpExchange } from './http-exchange.js';
import { parseBody, parseJson } from './schemas.js';
import type { ServerContext } from './server-context.js';

/** `budget`: bytes, a string with a unit ("512MB", "2GiB"), or null for machine limits only. */
const budgetRequestSchema = z.object({ budget: z.union([z.number().int().positive(), z.string(), z.null()]) });

function adaptiveOf(ctx: ServerContext) {
  const fn = ctx.engine.adaptiveState?.bind(ctx.engine);
  if (fn === undefined) throw new EdgewiseError('not_found', 'adaptive serving is not available on this engine');
  return fn;
}

async function answer(ex: HttpExchange, state: Promise<unknown>): Promise<void> {
  const s = await state;
  if (s === null) throw new EdgewiseError('not_found', 'adaptive serving is off; start `edgewise serve` with --memory-budget (or --adaptive)');
  ex.json(200, s);
}

/** GET /admin/budget: the budget, its source, KV reserved and block-cache counters. */
export function getBudget(ctx: ServerContext, ex: HttpExchange): Promise<void> {
  return answer(ex, adaptiveOf(ctx)());
}

/** POST /admin/budget {"budget": "256MB"}: takes effect at once (cache evicted); running requests keep their depth. */
export function setBudget(ctx: ServerContext, ex: HttpExchange, body: Buffer): Promise<void> {
  const req = parseBody(budgetRequestSchema, parseJson(body.toString('utf8')));
  const bytes = typeof req.budget === 'string' ? parseBytes(req.budget, 'budget') : req.budget;
  return answer(ex, adaptiveOf(ctx)({ bytes }));
}
