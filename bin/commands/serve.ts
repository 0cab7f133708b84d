// `edgewise serve`: loads a model into the engine worker and serves the OpenAI-compatible HTTP/WebSocket API.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EdgewiseError } from '../../runtime/errors.js';
import { startEngine, type EngineClient, type StartEngineOptions } from '../../runtime/worker/engine-client.js';
import { parseBytes } from '../../runtime/memory/budget.js';
import { QUALITIES, type Quality } from '../../runtime/memory/governor.js';
import { EdgewiseServer } from '../../server/app.js';
import { createObservability } from '../../server/observability/observability.js';
import { metricsRoute } from '../../server/observability/metrics-route.js';
import { engineStatsSource } from '../../server/observability/engine-stats.js';
import { parseLogLevel } from '../../server/observability/logger.js';
import { formatBytes, parseCommandArgs, parseFloatOption, parseIntOption, UsageError, type CliCommand } from '../cli-util.js';

/** models/default beside the package (dist/bin/commands/ → package root). */
const DEFAULT_MODEL = fileURLToPath(new URL('../../../models/default', import.meta.url));

const usage = `Usage: edgewise serve [options]

  --model <dir|file.ewm>   model to serve (default: the bundled models/default)
  --model-id <id>          id clients pass as "model" (default: the model's folder/file name)
  --host <addr>            address to listen on (default 127.0.0.1)
  --port <n>               port (default 8080; 0 picks a free one)
  --api-key <key>          require "Authorization: Bearer <key>" (default: $EDGEWISE_API_KEY, else none)
  --max-batch <n>          sequences decoded together (default 8)
  --max-queue <n>          requests waiting beyond the batch; past that 429 (default 64)
  --request-timeout <s>    per-request deadline in seconds (default: none)
  --max-body-bytes <n>     request body cap; larger bodies get 413 (default 1048576)
  --backend <b>            cpu | webgpu | auto (default auto: webgpu on a hardware GPU, else cpu)
  --threads <n>            CPU threads for the engine (default: cores - 1, one left to the server)
  --log-level <level>      fatal|error|warn|info|debug|trace|silent (default info)
  --memory-budget <size>   adaptive serving: bytes for decoded blocks, the compressed store kept in memory and KV caches ("512MB", "2GiB");
                           also capped by the cgroup limit and available memory (docs/adaptive.md)
  --adaptive               adaptive serving with the machine's limits only (implied by --memory-budget)
  --quality <q>            default quality for requests without edgewise.quality: exact|high|balanced|fast (default high)

Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /tokenize,
POST /detokenize, GET /health, GET /ready, GET /metrics, GET /v1/edgewise/stats, WS /v1/ws,
GET/POST /admin/budget (adaptive serving).
SIGTERM/SIGINT drain: /ready turns 503, running requests finish, then the process exits.`;

type BackendChoice = 'cpu' | 'webgpu' | 'auto';

function adaptiveOptions(budget: string | undefined, on: boolean, quality: string | undefined): StartEngineOptions['adaptive'] {
  if (quality !== undefined && !(QUALITIES as readonly string[]).includes(quality)) throw new UsageError(`--quality must be one of ${QUALITIES.join(', ')}, got "${quality}"`, '--quality');
  if (budget === undefined && !on) return undefined;
  let budgetBytes: number | null = null;
  try {
    budgetBytes = budget === undefined ? null : parseBytes(budget, '--memory-budget');
  } catch (err) {
    throw new UsageError((err as Error).message, '--memory-budget');
  }
  return { budgetBytes, defaultQuality: quality as Quality | undefined };
}

function parseBackend(value: string | undefined): BackendChoice {
  const backend = value ?? 'auto';
  if (backend === 'cpu' || backend === 'webgpu' || backend === 'auto') return backend;
  throw new UsageError(`--backend must be cpu, webgpu or auto, got "${backend}"`, '--backend');
}

/** The hardware GPU's name, or null when there is none (or WebGPU cannot be loaded). */
async function hardwareGpuName(): Promise<string | null> {
  // NOTE: on Linux a GPU shows up as a device node; without one, skip the probe: it would only
  // make Dawn's Vulkan loader print warnings on GPU-less machines.
  if (process.platform === 'linux' && !existsSync('/dev/nvidia0') && !existsSync('/dev/dri')) return null;
  try {
    const { probeHardwareGpu } = await import('../../kernels/webgpu/device.js');
    return await probeHardwareGpu();
  } catch {
    return null;
  }
}

/**
 * auto: WebGPU only on a hardware GPU (a software adapter such as SwiftShader is far slower than
 * onnxruntime on the CPU), and back to the CPU if the WebGPU engine fails to start.
 */
async function startWithBackend(choice: BackendChoice, options: Omit<StartEngineOptions, 'backend'>): Promise<{ engine: EngineClient; backend: 'cpu' | 'webgpu' }> {
  if (choice !== 'auto') return { engine: await startEngine({ ...options, backend: choice }), backend: choice };
  const gpuName = await hardwareGpuName();
  if (gpuName !== null) {
    try {
      return { engine: await startEngine({ ...options, backend: 'webgpu' }), backend: 'webgpu' };
    } catch (err) {
      process.stderr.write(`edgewise serve: WebGPU on ${gpuName} failed (${(err as Error).message.split('\n')[0]}); using the CPU\n`);
    }
  }
  return { engine: await startEngine({ ...options, backend: 'cpu' }), backend: 'cpu' };
}

/**
 * Called once the server has stopped: a handle left open by a dependency must not keep the
 * process alive. Unref'd, the timer only fires if something else still holds the event loop.
 */
function exitSoon(code: number): void {
  setTimeout(() => process.exit(process.exitCode ?? code), 5_000).unref();
}

/** Resolves on SIGTERM/SIGINT (first signal only; a second one exits at once). */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      const force = (): void => process.exit(130);
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      resolve(signal);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}

export const command: CliCommand = {
  name: 'serve',
  summary: 'serve a model over an OpenAI-compatible HTTP API, SSE and WebSocket',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      model: { type: 'string' },
      'model-id': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'api-key': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-queue': { type: 'string' },
      'request-timeout': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      'log-level': { type: 'string' },
      'memory-budget': { type: 'string' },
      adaptive: { type: 'boolean' },
      quality: { type: 'string' },
    });
    const modelPath = values.model ?? DEFAULT_MODEL;
    const host = values.host ?? '127.0.0.1';
    const port = parseIntOption(values.port, '--port', { min: 0, max: 65535, fallback: 8080 });
    const maxBatch = parseIntOption(values['max-batch'], '--max-batch', { min: 1, max: 1024, fallback: 8 });
    const maxQueue = parseIntOption(values['max-queue'], '--max-queue', { min: 0, max: 1_000_000, fallback: 64 });
    const requestTimeoutSec = values['request-timeout'] === undefined ? null : parseFloatOption(values['request-timeout'], '--request-timeout', { min: 0.001 });
    const maxBodyBytes = parseIntOption(values['max-body-bytes'], '--max-body-bytes', { min: 1024, fallback: 1024 * 1024 });
    const threads = values.threads === undefined ? undefined : parseIntOption(values.threads, '--threads', { min: 1, max: 1024 });
    const backendChoice = parseBackend(values.backend);
    let logLevel;
    try {
      logLevel = parseLogLevel(values['log-level'] ?? 'info');
    } catch (err) {
      throw new UsageError((err as Error).message, '--log-level');
    }
    const apiKey = values['api-key'] ?? (process.env.EDGEWISE_API_KEY || null);

    const adaptive = adaptiveOptions(values['memory-budget'], values.adaptive === true, values.quality);
    const { engine, backend } = await startWithBackend(backendChoice, { modelPath, maxBatch, maxQueue, threads, adaptive });
    const modelId = values['model-id'] ?? engine.modelId;
    const obs = createObservability({
      model: modelId,
      numLayers: engine.config.numLayers,
      // The CPU runner computes every block from fp32 weights (LayerWeights are Float32Array).
      precision: backend === 'cpu' ? 'fp32' : null,
      engineStats: engineStatsSource(engine),
      logLevel,
    });
    const server = new EdgewiseServer({
      engine,
      modelId,
      apiKey,
      maxBodyBytes,
      requestTimeoutSec,
      logger: obs.logger,
      observers: [obs.observer],
      extraRoutes: obs.metrics ? [metricsRoute(obs.metrics)] : [],
    });
    let boundPort: number;
    try {
      boundPort = await server.listen(host, port);
    } catch (err) {
      await engine.close();
      throw err;
    }
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    process.stdout.write(`edgewise serve: serving ${modelId} (${backend}, max batch ${maxBatch}) at ${url}\n`);
    const adaptiveState = adaptive ? await engine.adaptiveState() : null;
    if (adaptiveState) {
      const cal = adaptiveState.calibrated ? 'calibrated: depth switching on' : 'not calibrated: full depth only (run edgewise calibrate)';
      process.stdout.write(`edgewise serve: adaptive budget ${adaptiveState.budgetBytes >= Number.MAX_SAFE_INTEGER ? 'unlimited' : formatBytes(adaptiveState.budgetBytes)} (${adaptiveState.budgetSource}) for decoded blocks, held store segments and KV caches, fixed ${formatBytes(adaptiveState.fixedBytes)}; ${cal}\n`);
    }

    // NOTE: handlers already map their own failures; this net keeps a stray bug in a callback
    // (a timer, an observer) from taking every other client down with it.
    const onStray = (err: unknown): void => obs.logger.error({ err }, 'uncaught error (process kept alive)');
    process.on('uncaughtException', onStray);
    process.on('unhandledRejection', onStray);

    const fatal = new Promise<EdgewiseError>((resolve) => engine.onFatal(resolve));
    const outcome = await Promise.race([waitForSignal().then((signal) => ({ signal })), fatal.then((error) => ({ error }))]);
    if ('error' in outcome) {
      // The engine cannot go on: stop taking requests and exit non-zero so a supervisor restarts us.
      obs.logger.fatal({ err: outcome.error }, 'engine failed; shutting down');
      server.ctx.draining = true;
      server.close();
      await obs.shutdown();
      exitSoon(1);
      throw outcome.error;
    }
    obs.logger.info({ signal: outcome.signal }, 'draining: finishing running requests');
    await server.drain();
    server.close();
    await engine.close();
    await obs.shutdown();
    obs.logger.info('drained; exiting');
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    exitSoon(0);
    return 0;
  },
};
