// Decode throughput at concurrency 8 with tracing + metrics on vs off, interleaved rounds on one shared engine.

import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { pino } from 'pino';
import { EdgewiseServer } from '../server/app.js';
import type { ServingEngine } from '../server/engine-port.js';
import { FakeEngine } from '../server/fake-engine.js';
import { createObservability, type Observability } from '../server/observability/observability.js';
import { metricsRoute } from '../server/observability/metrics-route.js';
import { startEngine } from '../runtime/worker/engine-client.js';
import { buildPrompts } from '../loadtest/prompts.js';
import { runScenario } from '../loadtest/runner.js';
import { SseTransport } from '../loadtest/transports.js';
import { distribution, percentileSorted } from '../loadtest/stats.js';
import { Prng } from '../runtime/generation/prng.js';

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEFAULT_MODEL = join(ROOT, 'models/default');

/** A stand-in OTLP/HTTP collector in this process: accepts span exports so the exporter does its real work. */
function startCollector(): Promise<{ server: Server; url: string; spans: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ server, url: `http://127.0.0.1:${port}/v1/traces`, spans: () => requests });
    });
  });
}

interface Arm {
  name: 'on' | 'off';
  server: EdgewiseServer;
  url: string;
  obs: Observability | null;
}

async function startArm(name: 'on' | 'off', engine: ServingEngine, collectorUrl: string, parts: string[]): Promise<Arm> {
  const logger = pino({ level: 'silent' });
  const obs =
    name === 'on'
      ? createObservability({
          model: engine.modelId, numLayers: engine.config.numLayers, precision: 'fp32', engineStats: () => engine.stats(),
          logger,
          tracing: parts.includes('tracing') ? { exporter: new OTLPTraceExporter({ url: collectorUrl }), serviceName: 'edgewise-bench' } : null,
          metrics: parts.includes('metrics'),
        })
      : null;
  const server = new EdgewiseServer({
    engine, logger, observers: obs ? [obs.observer] : [], extraRoutes: obs?.metrics ? [metricsRoute(obs.metrics)] : [],
  });
  const port = await server.listen('127.0.0.1', 0);
  return { name, server, url: `http://127.0.0.1:${port}`, obs };
}

/**
 * The observer's own CPU cost, timed in isolation: it is what the on-arm adds per token, and
 * unlike the end-to-end rounds it does not drown in the noise of a shared machine.
 */
async function measureObserverCost(collectorUrl: string, tokensPerRequest: number): Promise<{ usPerToken: number; scrapeMs: number }> {
  const obs = createObservability({
    model: 'bench', numLayers: 8, precision: 'fp32', engineStats: () => ({ running: 8, waiting: 0 }),
    logger: pino({ level: 'silent' }), tracing: { exporter: new OTLPTraceExporter({ url: collectorUrl }) },
  });
  const run = async (requests: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < requests; i++) {
      const reqId = `bench-${i}`;
      const base = { reqId, endpoint: 'completion' as const, transport: 'sse' as const };
      obs.observer.onQueued({ ...base, model: 'bench', promptTokens: 32, numChoices: 1, startMs: Date.now() - 500 });
      for (let t = 0; t < tokensPerRequest; t++) obs.observer.onTokens({ reqId, count: 1, sinceLastMs: t === 0 ? null : 12 });
      obs.observer.onDone({
        ...base, status: 'ok', finishReasons: ['length'], promptTokens: 32, completionTokens: tokensPerRequest,
        ttftMs: 100, totalMs: 500, queueMs: 5,
      });
    }
    await obs.tracer!.forceFlush();
    return performance.now() - t0;
  };
  await run(200); // warm-up (JIT)
  const ms = await run(1000);
  const s0 = performance.now();
  for (let i = 0; i < 20; i++) await obs.metrics!.scrape();
  const scrapeMs = (performance.now() - s0) / 20;
  await obs.shutdown();
  return { usPerToken: (ms * 1000) / (1000 * tokensPerRequest), scrapeMs };
}

/**
 * CPU time of the main thread alone, ms (Linux /proc, 10 ms ticks). NOTE: unlike wall-clock
 * measures it does not grow when the machine is busy and the thread waits for a core; the
 * engine worker's CPU is not in it. Falls back to event-loop active time elsewhere.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz ticks
  } catch {
    return performance.eventLoopUtilization().active;
  }
}

/** 95% bootstrap interval of the median (seeded, so reruns on the same data agree). */
function bootstrapMedianCi(values: number[], resamples = 4000): [number, number] {
  const rng = new Prng(12345);
  const medians: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const sample = values.map(() => values[rng.nextUint32() % values.length]).sort((a, b) => a - b);
    medians.push(percentileSorted(sample, 50));
  }
  medians.sort((a, b) => a - b);
  return [percentileSorted(medians, 2.5), percentileSorted(medians, 97.5)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '8' },
      requests: { type: 'string', default: '16' },
      'max-tokens': { type: 'string', default: '48' },
      concurrency: { type: 'string', default: '8' },
      model: { type: 'string', default: DEFAULT_MODEL },
      fake: { type: 'boolean', default: false },
      out: { type: 'string', default: 'observability-bench' },
      /** What the on-arm turns on (to attribute a difference): tracing, metrics or both. */
      'on-parts': { type: 'string', default: 'tracing,metrics' },
      /** How often the load generator scrapes /metrics during a round (Prometheus' default is 15 s). */
      'scrape-interval-ms': { type: 'string', default: '1000' },
    },
  });
  const rounds = Number(values.rounds);
  const requests = Number(values.requests);
  const maxTokens = Number(values['max-tokens']);
  const concurrency = Number(values.concurrency);
  const engine: ServingEngine & { close(): Promise<void> } = values.fake
    ? new FakeEngine({ stepMs: 2, maxBatch: concurrency })
    : await startEngine({ modelPath: values.model!, maxBatch: concurrency, maxQueue: 256 });
  const collector = await startCollector();
  const parts = values['on-parts']!.split(',');
  const arms = [await startArm('on', engine, collector.url, parts), await startArm('off', engine, collector.url, parts)];
  const prompts = buildPrompts({ count: requests, meanTokens: 32, stddevTokens: 8, tokensPerWord: 1.2, seed: 1 });
  // tok/s of each round, per arm. NOTE: the arms alternate (and swap order every round) so that
  // drift in what else runs on the machine hits both equally; the warm-up round is dropped.
  const perRound: Record<'on' | 'off', number[]> = { on: [], off: [] };
  // Main-thread CPU time per generated token: the load generator runs on it in both arms alike,
  // so the difference is the observer's cost, far less noisy than tok/s on a shared machine.
  const busyUsPerToken: Record<'on' | 'off', number[]> = { on: [], off: [] };
  let failed = 0;
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      const transport = new SseTransport({ baseUrl: arm.url, model: engine.modelId, endpoint: 'completion', connections: 1, temperature: 1 });
      const cpu0 = mainThreadCpuMs();
      const r = await runScenario(transport, {
        baseUrl: arm.url, concurrency, rate: null, prompts, maxTokens, seed: round, scrapeIntervalMs: Number(values['scrape-interval-ms']), memoryPressure: null, label: arm.name,
      });
      failed += r.summary.failed;
      const busyMs = mainThreadCpuMs() - cpu0;
      if (round >= 0) {
        perRound[arm.name].push(r.summary.outputThroughput);
        busyUsPerToken[arm.name].push((busyMs * 1000) / Math.max(1, r.summary.totalOutputTokens));
      }
    }
    if (round >= 0) process.stderr.write(`round ${round + 1}/${rounds}: on ${perRound.on[round].toFixed(1)} tok/s, off ${perRound.off[round].toFixed(1)} tok/s\n`);
  }
  await arms[0].obs?.tracer?.forceFlush();
  const cost = await measureObserverCost(collector.url, maxTokens);
  const ratios = perRound.on.map((v, i) => v / perRound.off[i]);
  const on = distribution(perRound.on);
  const off = distribution(perRound.off);
  const ratio = distribution(ratios);
  const ci = bootstrapMedianCi(ratios);
  const busyOn = distribution(busyUsPerToken.on).median;
  const busyOff = distribution(busyUsPerToken.off).median;
  // Paired per round, like the throughput ratio.
  const busyDiff = distribution(busyUsPerToken.on.map((v, i) => v - busyUsPerToken.off[i])).median;
  const result = {
    benchmark: 'observability overhead: decode throughput, tracing+metrics on vs off',
    model: values.fake ? 'fake engine' : relative(ROOT, values.model!) || values.model,
    concurrency, requestsPerRound: requests, maxTokens, rounds, failed,
    onTokPerS: { median: on.median, mean: on.mean, min: on.min, max: on.max },
    offTokPerS: { median: off.median, mean: off.mean, min: off.min, max: off.max },
    ratioOnOverOff: { median: ratio.median, mean: ratio.mean, min: ratio.min, max: ratio.max, median95ci: ci },
    overheadPercent: (1 - ratio.median) * 100,
    otlpExportRequests: collector.spans(),
    observerUsPerToken: cost.usPerToken,
    scrapeMs: cost.scrapeMs,
    // Share of one core the observer takes at the measured throughput, plus one scrape a second.
    estimatedOverheadPercent: ((cost.usPerToken * on.median) / 1e6 + cost.scrapeMs / 1000) * 100,
    mainThreadCpuUsPerToken: { on: busyOn, off: busyOff, pairedDifferenceMedian: busyDiff },
    perRound,
    busyUsPerToken,
    machine: `${process.platform} ${process.arch}, node ${process.version}`,
    when: new Date().toISOString(),
  };
  const text =
    `decode throughput at concurrency ${concurrency} (${rounds} interleaved rounds of ${requests} requests x ${maxTokens} tokens, ${result.model})\n` +
    `  tracing+metrics ON : median ${on.median.toFixed(1)} tok/s (min ${on.min.toFixed(1)}, max ${on.max.toFixed(1)})\n` +
    `  tracing+metrics OFF: median ${off.median.toFixed(1)} tok/s (min ${off.min.toFixed(1)}, max ${off.max.toFixed(1)})\n` +
    `  on/off ratio per round: median ${ratio.median.toFixed(4)} (95% CI ${ci[0].toFixed(4)}..${ci[1].toFixed(4)}; min ${ratio.min.toFixed(4)}, max ${ratio.max.toFixed(4)}) -> overhead ${result.overheadPercent.toFixed(2)}%\n` +
    `  main-thread CPU per token (median over rounds): on ${busyOn.toFixed(1)} us, off ${busyOff.toFixed(1)} us, paired difference ${busyDiff.toFixed(1)} us ` +
    `(${((busyDiff * on.median) / 1e4).toFixed(2)}% of one core at ${on.median.toFixed(0)} tok/s)\n` +
    `  observer CPU in isolation: ${cost.usPerToken.toFixed(2)} us per token (tracing + metrics, ${maxTokens}-token requests), ` +
    `scrape ${cost.scrapeMs.toFixed(2)} ms -> ${result.estimatedOverheadPercent.toFixed(3)}% of one core at ${on.median.toFixed(0)} tok/s with 1 scrape/s\n` +
    `  OTLP export requests received: ${result.otlpExportRequests}; failed requests: ${failed}\n`;
  process.stdout.write(text);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${values.out}.json`, JSON.stringify(result, null, 1));
  writeFileSync(`${RESULTS_DIR}${values.out}.txt`, text);
  for (const arm of arms) {
    arm.server.close();
    await arm.obs?.shutdown();
  }
  collector.server.close();
  await engine.close();
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err: Error) => {
  process.stderr.write(`observability-bench: error: ${err.message}\n`);
  process.exit(1);
});
