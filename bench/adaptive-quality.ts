// Quality table of the default model: calibrates a fresh container and plots perplexity against depth for each precision rung
// (docs/adaptive-quality.svg) and each rung relative to lossless (docs/adaptive-quality-precision.svg).
//
//   node dist/bench/adaptive-quality.js [--tokens 8192] [--hf models/default]
// Also measures the uncompressed folder's full-depth perplexity on the same windows (must be equal).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { calibrateContainer } from '../runtime/calibration/calibrate.js';
import { calibrationWindows } from '../runtime/calibration/calibration-text.js';
import { perplexity } from '../runtime/calibration/perplexity.js';
import { createOrtRunner } from '../runtime/engine/ort-runner.js';
import { loadModel } from '../runtime/model/load-model.js';
import { lineChart, type Series } from './adaptive-svg.js';
import { PRECISIONS } from '../runtime/container/precision.js';

const root = new URL('../../', import.meta.url).pathname;
const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log('adaptive-quality: perplexity per (depth, precision) of the default model, JSON + SVG plots\n  --tokens N   calibration tokens (default 8192)\n  --hf DIR     Hugging Face folder (default models/default)');
  process.exit(0);
}
const maxTokens = argv.includes('--tokens') ? Number(argv[argv.indexOf('--tokens') + 1]) : 8192;
const work = mkdtempSync(join(tmpdir(), 'adaptive-quality-'));
try {
  const hf = argv.includes('--hf') ? argv[argv.indexOf('--hf') + 1] : join(root, 'models/default');
  const text = readFileSync(join(root, 'models/default/calibration.txt'), 'utf8');
  const ewm = join(work, 'default.ewm');
  convertToEwm(hf, ewm);
  const t0 = Date.now();
  const result = await calibrateContainer(ewm, text, { maxTokens });
  const seconds = (Date.now() - t0) / 1000;
  const model = await loadModel(hf);
  const runner = await createOrtRunner(model.weights, { maxSeqLen: 128 });
  const uncompressed = await perplexity(runner, calibrationWindows(model.tokenizer!, text, 128, maxTokens));
  await runner.dispose();
  const points = result.qualityTables.points;
  const losslessFull = points.find((p) => p.precision === 'bf16' && p.depth === model.config.numLayers)!.perplexity;
  const out = { ...result, uncompressedFullDepthPerplexity: uncompressed, losslessEqualsUncompressed: losslessFull === uncompressed, calibrateSeconds: seconds };
  writeFileSync(join(root, 'bench/results/adaptive-quality.json'), JSON.stringify(out, null, 1));
  writeFileSync(join(root, 'docs/adaptive-quality.svg'), lineChart({
    title: `Held-out perplexity vs depth and precision (default model, ${result.qualityTables.numTokens} tokens)`,
    xLabel: 'depth (blocks run, most important first)', yLabel: 'perplexity',
    series: [
      ...PRECISIONS.map((r) => ({
        name: `${r.name}${r.lossless ? ' (lossless)' : ` (${r.mantissaBits}-bit mantissa)`}`, dashed: !r.lossless,
        points: points.filter((p) => p.precision === r.name).map((p) => [p.depth, p.perplexity] as [number, number]),
      })),
      { name: 'uncompressed, all blocks', points: [[1, uncompressed], [model.config.numLayers, uncompressed]], reference: true },
    ],
  }));
  // The rungs differ by well under 1% while depth moves perplexity by 2.7x: a second plot shows each rung relative to lossless at the same depth.
  const lossless = (d: number) => points.find((p) => p.precision === 'bf16' && p.depth === d)!.perplexity;
  writeFileSync(join(root, 'docs/adaptive-quality-precision.svg'), lineChart({
    title: 'Perplexity of each precision rung relative to lossless at the same depth',
    xLabel: 'depth (blocks run, most important first)', yLabel: 'perplexity increase over bf16 (%)',
    series: [
      ...PRECISIONS.filter((r) => !r.lossless).map((r): Series => ({
        name: `${r.name} (${r.mantissaBits}-bit mantissa)`,
        points: points.filter((p) => p.precision === r.name).map((p) => [p.depth, (p.perplexity / lossless(p.depth) - 1) * 100]),
      })),
      { name: 'bf16 (lossless)', points: [[1, 0], [model.config.numLayers, 0]], reference: true },
    ],
  }));
  console.log(`ranking ${result.layerImportance.ranking.join(' ')}; block influence ${result.layerImportance.scores.map((s) => s.toFixed(4)).join(' ')}`);
  for (const p of points) console.log(`depth ${p.depth} ${p.precision}: perplexity ${p.perplexity.toFixed(3)}`);
  // The table as docs/adaptive.md shows it (paste-ready).
  const depths = [...new Set(points.map((p) => p.depth))].sort((a, b) => b - a);
  console.log(`\n| depth | ${depths.join(' | ')} |\n| --- |${depths.map(() => ' --- |').join('')}`);
  for (const r of PRECISIONS) {
    const row = depths.map((d) => points.find((p) => p.depth === d && p.precision === r.name)?.perplexity.toFixed(3) ?? '-');
    console.log(`| \`${r.name}\`${r.lossless ? ' (lossless)' : ''} | ${row.join(' | ')} |`);
  }
  console.log(`uncompressed full depth: ${uncompressed.toFixed(3)} (lossless container full depth ${losslessFull === uncompressed ? 'equal' : 'DIFFERENT'}); calibrate took ${seconds.toFixed(0)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
