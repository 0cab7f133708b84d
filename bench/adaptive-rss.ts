// Samples the engine process's RSS while 8 requests run at a given memory budget (one child process per budget).
//
//   node dist/bench/adaptive-rss.js [model.ewm] [--budgets 0.25,0.5,1] [--json]
// Prints, per budget, RSS samples (MiB) and the largest, next to a 2 MiB-budget run that measures
// the fixed overhead (runtime, decoded embedding/head, one segment of read scratch; no block cached,
// no compressed segment held: the store is inside the budget and read from the file).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine } from '../runtime/worker/engine-client.js';
import type { GenerationEvent } from '../runtime/worker/engine-api.js';
import { DEFAULT_SAMPLING } from '../runtime/generation/sampling-params.js';
import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { loadTokenizerAndTemplate } from '../runtime/model/load-model.js';
import { blockBytes } from '../runtime/memory/cached-weights.js';

const MiB = 1024 ** 2;

export interface RssRun {
  budgetBytes: number;
  /** RSS right after the engine started (before any request). */
  startRss: number;
  maxRss: number;
  samples: number[];
  ok: number;
  depths: number[];
  cacheEntries: number;
  /** Compressed segment prefixes held in the budget at the end, their bytes, and positional reads from the file. */
  heldSegments: number;
  heldSegmentBytes: number;
  segmentReads: number;
  /** Bytes the engine reports outside the budget (decoded globals + read scratch). */
  fixedBytes: number;
}

/** Child mode: one engine, 8 concurrent requests, RSS sampled every 5 ms. */
async function child(ewm: string, budgetBytes: number, concurrency: number, maxTokens: number): Promise<RssRun> {
  const engine = await startEngine({ modelPath: ewm, maxBatch: concurrency, maxQueue: concurrency, adaptive: { budgetBytes } });
  const startRss = process.memoryUsage.rss();
  const samples: number[] = [startRss];
  const timer = setInterval(() => samples.push(process.memoryUsage.rss()), 5);
  const done = await Promise.all(
    Array.from({ length: concurrency }, (_, i) =>
      new Promise<Extract<GenerationEvent, { type: 'done' }>>((resolve) => {
        const promptIds = Array.from({ length: 16 }, (_, t) => 100 + ((i * 31 + t * 7) % 3000));
        const sampling = { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map() };
        engine.submit({ reqId: `r${i}`, promptIds, maxTokens, sampling, stop: [], stopTokenIds: [], deadlineMs: null, adaptive: { quality: 'exact' } }, (e) => {
          if (e.type === 'done') resolve(e);
        });
      }),
    ),
  );
  clearInterval(timer);
  samples.push(process.memoryUsage.rss());
  const state = await engine.adaptiveState();
  await engine.close();
  return {
    budgetBytes, startRss, maxRss: Math.max(...samples), samples,
    ok: done.filter((d) => d.finishReason === 'length' || d.finishReason === 'stop').length,
    depths: done.map((d) => d.adaptive?.depth ?? -1), cacheEntries: state?.cache?.entries ?? -1,
    heldSegments: state?.segments?.entries ?? -1, heldSegmentBytes: state?.segments?.bytes ?? -1, segmentReads: state?.segments?.reads ?? -1, fixedBytes: state?.fixedBytes ?? -1,
  };
}

/** Runs one budget in a fresh process (so runs do not share heap growth). */
export function runRss(ewm: string, budgetBytes: number, concurrency = 8, maxTokens = 48): RssRun {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', ewm, String(budgetBytes), String(concurrency), String(maxTokens)], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`rss child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as RssRun;
}

/** x% budget = x% of all decoded blocks plus the 8 requests' KV caches (6 blocks × 64-token caches × 512 B each at most). */
export function budgetAt(decodedBytes: number, fraction: number): number {
  return Math.round(decodedBytes * fraction) + 2 * MiB;
}

/** fp32 bytes of every decoded block: what "100% budget" means (the whole model decoded in the cache). */
export async function decodedBlocksBytes(ewm: string): Promise<number> {
  const { config } = await loadTokenizerAndTemplate(ewm);
  return config.numLayers * blockBytes(config);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(argv[1], Number(argv[2]), Number(argv[3]), Number(argv[4]))));
    return;
  }
  const fractions = (argv.includes('--budgets') ? argv[argv.indexOf('--budgets') + 1] : '0.25,0.5,1').split(',').map(Number);
  let ewm = argv.find((a) => a.endsWith('.ewm'));
  const work = mkdtempSync(join(tmpdir(), 'adaptive-rss-'));
  try {
    if (ewm === undefined) {
      ewm = join(work, 'default.ewm');
      convertToEwm(new URL('../../models/default', import.meta.url).pathname, ewm);
    }
    const full = await decodedBlocksBytes(ewm);
    const base = runRss(ewm, 2 * MiB);
    const fixed = base.maxRss - 2 * MiB;
    const rows = fractions.map((f) => ({ fraction: f, run: runRss(ewm!, budgetAt(full, f)) }));
    const out = { decodedBlocksBytes: full, fixedOverheadBytes: fixed, base, rows };
    if (argv.includes('--json')) {
      writeFileSync(new URL('../../bench/results/adaptive-rss.json', import.meta.url), JSON.stringify(out, null, 1));
      process.stdout.write(JSON.stringify(out) + '\n');
      return;
    }
    const mb = (b: number) => (b / MiB).toFixed(1);
    console.log(`decoded blocks (100% budget): ${mb(full)} MiB; fixed overhead (2 MiB-budget run: KV only, no block or segment held; max RSS − 2 MiB): ${mb(fixed)} MiB, of which the engine reports ${mb(base.fixedBytes)} MiB (decoded embedding/head + read scratch)`);
    for (const { fraction, run } of rows) {
      console.log(`budget ${(fraction * 100).toFixed(0)}% = ${mb(run.budgetBytes)} MiB: ${run.ok}/8 ok, depths ${run.depths.join(',')}, cached blocks ${run.cacheEntries}, held segments ${run.heldSegments} (${mb(run.heldSegmentBytes)} MiB), segment reads ${run.segmentReads}, max RSS ${mb(run.maxRss)} MiB = fixed + budget + ${mb(run.maxRss - fixed - run.budgetBytes)} MiB`);
      console.log(`  samples (MiB, every 5 ms): ${run.samples.filter((_, i) => i % Math.ceil(run.samples.length / 40) === 0).map(mb).join(' ')}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) await main();
