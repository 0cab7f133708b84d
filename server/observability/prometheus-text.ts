// Parses the Prometheus text exposition format into samples (for tests and the load tester's scrapes).

export interface PromSample {
  /** Full sample name, e.g. `edgewise:time_to_first_token_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Every sample line; comment lines (# HELP / # TYPE / # UNIT) are skipped. Throws on a malformed line. */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (m === null) throw new SyntaxError(`malformed Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined) {
      for (const lm of m[2].matchAll(LABEL_RE)) labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return samples;
}

/** Sum of the values of every sample with this exact name whose labels include `match`. */
export function sumSamples(samples: PromSample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Whether any sample has this name. */
export function hasSample(samples: PromSample[], name: string): boolean {
  return samples.some((s) => s.name === name);
}
