// Size report: bits/weight vs the 8 + H(exponent) bound for the default model and a full Gaussian 1B-shaped block.
// Usage: node dist/bench/codec-size.js [--model DIR] [--out FILE]

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { convertToEwm, type ConvertReport } from '../runtime/container/ewm-writer.js';
import { writeLlama1bLayerFolder } from '../runtime/container/ewm-test-util.js';

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(root, 'models/default') },
    out: { type: 'string', default: join(root, 'bench/results/codec-size.json') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('codec-size: bits/weight vs the 8 + H(exponent) bound (default model, Gaussian 1B-shaped block)\n  --model DIR   Hugging Face folder (default models/default)\n  --out FILE    JSON results (default bench/results/codec-size.json)');
  process.exit(0);
}

function summary(label: string, r: ConvertReport, seconds: number): Record<string, unknown> {
  const row = {
    label,
    bitsPerWeight: r.bitsPerWeight,
    entropyBoundBits: r.entropyBoundBits,
    gapBits: r.bitsPerWeight - r.entropyBoundBits,
    percentOfBf16: (r.bitsPerWeight / 16) * 100,
    sourceBytes: r.sourceBytes,
    containerBytes: r.containerBytes,
    convertSeconds: seconds,
    segments: r.segments.map((s) => ({ name: s.name, weights: s.numWeights, bitsPerWeight: s.bitsPerWeight, bound: s.entropyBoundBits })),
  };
  console.log(
    `${label}: ${row.bitsPerWeight.toFixed(3)} bits/weight (${row.percentOfBf16.toFixed(1)}% of BF16), bound ${row.entropyBoundBits.toFixed(3)}, gap ${row.gapBits.toFixed(3)}; convert ${seconds.toFixed(1)} s`,
  );
  return row;
}

const work = mkdtempSync(join(tmpdir(), 'codec-size-'));
try {
  let t = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - t) / 1e9;
  const model = summary(`default model (${values.model})`, convertToEwm(values.model!, join(work, 'default.ewm')), elapsed());
  const weights = writeLlama1bLayerFolder(join(work, 'l1b'), 1, 7);
  t = process.hrtime.bigint();
  const block = summary(`Gaussian N(0, 0.02²) 1B-shaped block (${weights} weights)`, convertToEwm(join(work, 'l1b'), join(work, 'l1b.ewm')), elapsed());
  const f16Weights = writeLlama1bLayerFolder(join(work, 'l1b-f16'), 4, 9, 'F16');
  t = process.hrtime.bigint();
  const blockF16 = summary(
    `F16 N(0, 0.02²) 1B-shaped block, rows / 4 (${f16Weights} weights; symbol = 5-bit exponent + 3 mantissa bits)`,
    convertToEwm(join(work, 'l1b-f16'), join(work, 'l1b-f16.ewm')),
    elapsed(),
  );
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify({ date: new Date().toISOString(), model, block, blockF16 }, null, 2) + '\n');
  console.log(`written to ${values.out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
