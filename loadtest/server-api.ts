// The non-generation calls the load tester makes: model id, tokenizer calibration, /metrics, /admin/budget.

import { parsePrometheusText, sumSamples, type PromSample } from '../server/observability/prometheus-text.js';

function headers(apiKey: string | undefined): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey) h.authorization = `Bearer ${apiKey}`;
  return h;
}

/** The first model the server lists (Edgewise serves one). */
export async function fetchModelId(baseUrl: string, apiKey?: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/v1/models`, { headers: headers(apiKey) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw new Error(`GET ${baseUrl}/v1/models: HTTP ${res.status}`);
  const body = (await res.json()) as { data?: { id: string }[] };
  const id = body.data?.[0]?.id;
  if (typeof id !== 'string') throw new Error(`GET ${baseUrl}/v1/models listed no model`);
  return id;
}

/** Tokens per word of `text` by the server's tokenizer (POST /tokenize), or null when it has none. */
export async function measureTokensPerWord(baseUrl: string, model: string, text: string, apiKey?: string): Promise<number | null> {
  try {
    const res = await fetch(`${baseUrl}/tokenize`, {
      method: 'POST',
      headers: headers(apiKey),
      body: JSON.stringify({ model, prompt: text, add_special_tokens: false }),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { count?: number };
    const words = text.split(' ').length;
    return typeof body.count === 'number' && body.count > 0 ? body.count / words : null;
  } catch {
    return null;
  }
}

/** One scrape of GET /metrics; null when the server has no metrics route. */
export async function scrapeMetrics(baseUrl: string): Promise<PromSample[] | null> {
  try {
    const res = await fetch(`${baseUrl}/metrics`);
    if (!res.ok) return null;
    return parsePrometheusText(await res.text());
  } catch {
    return null;
  }
}

/** What the memory-pressure scenario reads off a scrape. */
export function currentBudgetBytes(samples: PromSample[]): number | null {
  return samples.some((s) => s.name === 'edgewise:memory_budget_bytes') ? sumSamples(samples, 'edgewise:memory_budget_bytes') : null;
}

export interface BudgetCallResult {
  ok: boolean;
  status: number;
  message: string;
}

/**
 * POST /admin/budget {"budget": n}. NOTE: the endpoint exists only when the server runs adaptive
 * serving (`serve --adaptive` or `--memory-budget`); a 404/405 is reported as "not available",
 * never as a load-test failure.
 */
export async function setBudget(baseUrl: string, budgetBytes: number, apiKey?: string): Promise<BudgetCallResult> {
  try {
    const res = await fetch(`${baseUrl}/admin/budget`, {
      method: 'POST',
      headers: headers(apiKey),
      body: JSON.stringify({ budget: Math.round(budgetBytes) }),
    });
    const text = (await res.text()).slice(0, 300);
    if (res.status === 404 || res.status === 405) {
      const why = (/"message":"([^"]*)"/.exec(text) ?? [])[1];
      return { ok: false, status: res.status, message: `POST /admin/budget is not available on this server (HTTP ${res.status}${why ? `: ${why}` : ''}); the memory-pressure step was skipped` };
    }
    return { ok: res.ok, status: res.status, message: res.ok ? `budget set to ${Math.round(budgetBytes)} bytes` : `POST /admin/budget failed: HTTP ${res.status} ${text}` };
  } catch (err) {
    return { ok: false, status: 0, message: `POST /admin/budget failed: ${(err as Error).message}` };
  }
}
