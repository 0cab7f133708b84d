// Decode tokens/s against memory budget (10%..100%): lossless full depth and the governor's (depth, precision), vs naive and uncompressed.
//
//   node dist/bench/adaptive-bench.js [model.ewm] [--hf models/default] [--rounds 5] [--steps 32] [--quality balanced] [--paired-rounds 40]
// Without a container, converts models/default and calibrates it on 2048 held-out tokens first.
// Writes bench/results/adaptive-bench.json and docs/adaptive-bench.svg.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrtRunner } from '../runtime/engine/ort-runner.js';
import type { ModelRunner, WeightProvider } from '../runtime/engine/runner-types.js';
import { EwmWeightProvider } from '../runtime/container/ewm-weights.js';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { loadModel, loadTokenizerAndTemplate } from '../runtime/model/load-model.js';
import { calibrateContainer } from '../runtime/calibration/calibrate.js';
import { readCalibration } from '../runtime/calibration/ewm-calibration-store.js';
import { BlockCache } from '../runtime/memory/block-cache.js';
import { blockBytes, type CachedEntry } from '../runtime/memory/cached-weights.js';
import { budgetedWeights, servedPrecisions } from '../runtime/memory/budgeted-weights.js';
import { Governor, type Quality } from '../runtime/memory/governor.js';
import type { PrecisionName } from '../runtime/container/precision.js';
import { lineChart } from './adaptive-svg.js';

const root = new URL('../../', import.meta.url).pathname;
const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const rounds = Number(opt('--rounds', '5'));
const steps = Number(opt('--steps', '32'));
const quality = opt('--quality', 'balanced') as Quality;
const pairedRounds = Number(opt('--paired-rounds', '40'));
const PROMPT = Array.from({ length: 16 }, (_, i) => 100 + i * 37);

interface Config {
  name: string;
  budgetFraction: number | null;
  runner: ModelRunner;
  layerIndices: number[] | undefined;
  depth: number;
  precision: string;
  cache: BlockCache<CachedEntry> | null;
  tokensPerSec: number[];
  /** Process CPU ms per decoded token, per round. */
  cpuMsPerToken: number[];
}

/**
 * Batch-1 decode: prefill, 3 warm-up tokens, then `steps` timed decode steps; records wall
 * tokens/s and process CPU ms per token.
 * NOTE: onnxruntime and the decoder each run one thread here, so CPU time per token measures
 * the work itself; wall time on a box shared with a training job mostly measures the neighbours.
 */
async function decodeRate(c: Config): Promise<void> {
  c.runner.createSequence(1, { layerIndices: c.layerIndices });
  try {
    await c.runner.step([{ seqId: 1, tokenIds: PROMPT }]);
    for (let i = 0; i < 3; i++) await c.runner.step([{ seqId: 1, tokenIds: [7 + i] }]);
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) await c.runner.step([{ seqId: 1, tokenIds: [11 + (i % 50)] }]);
    const cpu = process.cpuUsage(cpu0);
    c.tokensPerSec.push(steps / (Number(process.hrtime.bigint() - t0) / 1e9));
    c.cpuMsPerToken.push((cpu.user + cpu.system) / 1000 / steps);
  } finally {
    c.runner.freeSequence(1);
  }
}

/**
 * The 100%-budget target's ratio measured side by side: `pairedRounds` pairs of runs of the two configurations back
 * to back, in alternating order, each pair giving one tokens/s ratio (by CPU time). NOTE: the main rounds run all 22
 * configurations between two samples of one, so on this noisy host their least-CPU-time ratio swung 0.93-1.12.
 */
async function pairedRatio(base: Config, other: Config): Promise<{ median: number; q1: number; q3: number; ratios: number[] }> {
  const ratios: number[] = [];
  for (let r = 0; r < pairedRounds; r++) {
    const a = { ...base, tokensPerSec: [], cpuMsPerToken: [] };
    const b = { ...other, tokensPerSec: [], cpuMsPerToken: [] };
    for (const c of r % 2 === 0 ? [a, b] : [b, a]) await decodeRate(c);
    ratios.push(a.cpuMsPerToken[0] / b.cpuMsPerToken[0]);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), q1: at(0.25), q3: at(0.75), ratios };
}

async function firstLogits(runner: ModelRunner): Promise<Float32Array> {
  runner.createSequence(9);
  try {
    return Float32Array.from((await runner.step([{ seqId: 9, tokenIds: PROMPT }]))[0]);
  } finally {
    runner.freeSequence(9);
  }
}

// NOTE: best of the rounds: on a shared 2-core box the least-disturbed run is the closest to the engine's own speed.
const best = (a: number[]) => Math.max(...a);

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'adaptive-bench-'));
  try {
    let ewm = argv.find((a) => a.endsWith('.ewm'));
    const hf = opt('--hf', join(root, 'models/default'));
    if (ewm === undefined) {
      ewm = join(work, 'default.ewm');
      convertToEwm(hf, ewm);
      await calibrateContainer(ewm, readFileSync(join(root, 'models/default/calibration.txt'), 'utf8'), { maxTokens: 2048 });
    }
    const { config } = await loadTokenizerAndTemplate(ewm);
    const cal = readCalibration(ewm);
    const full = config.numLayers * blockBytes(config);
    const tokens = PROMPT.length + 3 + steps;
    const probe = EwmWeightProvider.open(ewm, config, { threads: 1 });
    const govOpts = {
      numLayers: config.numLayers, ranking: cal.layerImportance?.ranking ?? null, qualityTable: cal.qualityTables, blockBytes: blockBytes(config),
      precisions: servedPrecisions(probe), kvBytesPerTokenLayer: 2 * config.numKvHeads * config.headDim * 4, maxSeqLen: 512, defaultQuality: quality,
    };
    probe.close();
    // NOTE: like the engine, the budget covers the compressed store too: segments live in the same cache, the rest is read from the file.
    const budgeted = (cache: BlockCache<CachedEntry>, precision: string) => {
      const { weights } = budgetedWeights(EwmWeightProvider.open(ewm!, config, { threads: 1 }), cache);
      weights.selectPrecision(precision as PrecisionName);
      return weights;
    };
    const uncompressed = await loadModel(hf);
    const configs: Config[] = [];
    const add = async (name: string, weights: WeightProvider, budgetFraction: number | null, layerIndices: number[] | undefined, cache: BlockCache<CachedEntry> | null, precision = 'bf16') => {
      const c = { name, budgetFraction, runner: await createOrtRunner(weights, { maxSeqLen: 512, threads: 1 }), layerIndices, depth: layerIndices?.length ?? config.numLayers, precision, cache, tokensPerSec: [], cpuMsPerToken: [] };
      configs.push(c);
      return c;
    };
    const base = await add('uncompressed', uncompressed.weights, null, undefined, null);
    const naive = await add('naive (decode every block every step)', EwmWeightProvider.open(ewm, config, { threads: 1 }), null, undefined, null);
    const choices: { fraction: number; depth: number; precision: string; why: string }[] = [];
    for (let k = 1; k <= 10; k++) {
      const fraction = k / 10;
      // NOTE: x% budget = x% of all decoded blocks plus this request's KV cache, so 100% holds every block.
      const budget = Math.round(full * fraction) + new Governor(govOpts, 0).kvBytes(config.numLayers, tokens);
      const g = new Governor(govOpts, budget);
      const fullCache = new BlockCache<CachedEntry>(budget - g.kvBytes(config.numLayers, tokens));
      await add(`full depth @${k * 10}%`, budgeted(fullCache, 'bf16'), fraction, undefined, fullCache);
      const d = g.admit('bench', undefined, tokens, { running: 0, waiting: 0, maxBatch: 8 });
      choices.push({ fraction, depth: d.choice.depth, precision: d.choice.precision, why: d.choice.why });
      const govCache = new BlockCache<CachedEntry>(g.cacheCapacity());
      await add(`governor @${k * 10}%`, budgeted(govCache, d.choice.precision), fraction, d.layerIndices, govCache, d.choice.precision);
    }
    // Validate, then time: the cached full-depth path at 100% must give the uncached logits bit for bit.
    const want = await firstLogits(naive.runner);
    const got = await firstLogits(configs.find((c) => c.name === 'full depth @100%')!.runner);
    if (!Buffer.from(want.buffer).equals(Buffer.from(got.buffer))) throw new Error('cached logits differ from uncached ones');
    for (let r = 0; r < rounds; r++) for (const c of configs) await decodeRate(c);
    // Single-thread tokens/s from the least CPU time per token over the rounds.
    const rate = (c: Config) => 1000 / Math.min(...c.cpuMsPerToken);
    const rows = configs.map((c) => ({
      name: c.name, budgetFraction: c.budgetFraction, depth: c.depth, precision: c.precision, cpuTokensPerSec: rate(c), cpuMsPerToken: c.cpuMsPerToken,
      wallTokensPerSecBest: best(c.tokensPerSec), wallTokensPerSec: c.tokensPerSec,
      cachedBlocks: c.cache?.countWhere((k) => !k.startsWith('seg/')).entries ?? null, heldSegments: c.cache?.countWhere((k) => k.startsWith('seg/')).entries ?? null,
    }));
    const at100 = configs.find((c) => c.name === 'full depth @100%')!;
    const paired = await pairedRatio(base, at100);
    const result = { model: ewm, decodedBlocksBytes: full, steps, rounds, quality, loadavg: loadavg(), choices, rows, ratioAt100: rate(at100) / rate(base), pairedAt100: paired };
    writeFileSync(join(root, 'bench/results/adaptive-bench.json'), JSON.stringify(result, null, 1));
    const pts = (prefix: string) => configs.filter((c) => c.name.startsWith(prefix)).map((c) => [c.budgetFraction! * 100, rate(c)] as [number, number]);
    writeFileSync(join(root, 'docs/adaptive-bench.svg'), lineChart({
      title: `Decode tok/s vs budget (batch 1, 1 thread; labels: depth/rung)`, xLabel: 'budget, % of all blocks decoded (fp32) + KV cache', yLabel: 'tokens/s (1000 / CPU ms per token)',
      series: [
        { name: 'lossless, full depth', points: pts('full depth') },
        { name: `governor (${quality})`, points: pts('governor'), labels: choices.map((c) => `${c.depth}/${c.precision}`) },
        { name: 'uncompressed', points: [[10, rate(base)], [100, rate(base)]], reference: true },
        { name: 'naive decode every step', points: [[10, rate(naive)], [100, rate(naive)]], reference: true },
      ],
    }));
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${rounds} interleaved rounds × ${steps} decode steps, 1 thread; least CPU ms/token and best wall tok/s`);
    for (const row of rows) {
      console.log(`${row.name.padEnd(40)} depth ${row.depth} ${row.precision.padEnd(5)} ${row.cpuTokensPerSec.toFixed(1).padStart(7)} tok/s by CPU (${Math.min(...row.cpuMsPerToken).toFixed(2)} ms/token)  wall best ${row.wallTokensPerSecBest.toFixed(1).padStart(6)}  cached blocks ${row.cachedBlocks ?? '-'}, held segments ${row.heldSegments ?? '-'}`);
    }
    for (const c of choices) console.log(`governor @${(c.fraction * 100).toFixed(0)}%: depth ${c.depth} ${c.precision} (${c.why})`);
    console.log(`full depth at 100% budget / uncompressed = ${result.ratioAt100.toFixed(3)} (least CPU time over the rounds)`);
    console.log(`  side by side, ${pairedRounds} back-to-back pairs in alternating order: median ${paired.median.toFixed(3)} (quartiles ${paired.q1.toFixed(3)}..${paired.q3.toFixed(3)})`);
    for (const c of configs) await c.runner.dispose();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
