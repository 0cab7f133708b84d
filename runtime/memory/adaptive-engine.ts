// Worker-side glue of adaptive serving: budget → governor → per-request blocks, block cache sized to what is left.

import type { WeightProvider } from '../engine/runner-types.js';
import type { GenerationEvent, GenerationRequest } from '../worker/engine-api.js';
import type { LoadedModel } from '../model/load-model.js';
import { readCalibration } from '../calibration/ewm-calibration-store.js';
import { BlockCache, type CacheStats } from './block-cache.js';
import { blockBytes, type CachedEntry, type CachedWeightProvider } from './cached-weights.js';
import { isSegmentKey, type SegmentStore, type SegmentStats } from './segment-store.js';
import { budgetedWeights, servedPrecisions } from './budgeted-weights.js';
import type { AdaptiveSequenceOptions } from './adaptive-runner.js';
import { EwmWeightProvider } from '../container/ewm-weights.js';
import { LOSSLESS, PRECISIONS, type PrecisionName } from '../container/precision.js';
import { MemoryBudget, type MemoryProbe } from './budget.js';
import { Governor, type AdaptiveChoice, type Quality, type QueueState } from './governor.js';

export interface AdaptiveOptions {
  /** Operator budget in bytes for decoded blocks, held store segments and KV caches; null = machine limits only. */
  budgetBytes: number | null;
  defaultQuality?: Quality;
  /** Longest sequence (the runner's maxSeqLen). */
  maxSeqLen: number;
  /** Re-read the machine's limits every this many steps (default 16) and every `refreshMs` while idle (default 1000). */
  refreshSteps?: number;
  refreshMs?: number;
  probe?: MemoryProbe;
  /**
   * Keep decoded blocks in a host-memory cache (default true). The webgpu backend keeps an
   * .ewm's blocks compressed on the GPU and decodes them there, so it runs without one.
   */
  cacheBlocks?: boolean;
}

/** What the admin endpoint and metrics report. */
export interface AdaptiveState {
  budgetBytes: number;
  operatorBytes: number | null;
  budgetSource: string;
  kvReservedBytes: number;
  cache: CacheStats | null;
  /** Compressed segments served from memory vs read from the .ewm (null when the store is not budgeted). */
  segments: SegmentStats | null;
  /** Bytes outside the budget: decoded embedding/head, one segment of read scratch, and (when not budgeted) the compressed store; the runtime itself not included. */
  fixedBytes: number;
  /** Precision rungs served. */
  precisions: string[];
  numLayers: number;
  calibrated: boolean;
  /** Choices of live requests by depth (metrics). */
  depthCounts: Record<string, number>;
  /** Choices of live requests by precision. */
  precisionCounts: Record<string, number>;
}

/**
 * NOTE: the budget governs what varies with load and memory: decoded blocks kept in the cache,
 * compressed segments held in memory (the .ewm file is the source of truth; what does not fit
 * is read by positional reads on demand, docs/adaptive.md) and the KV caches of admitted
 * requests. The decoded embedding/LM head, one segment of read scratch and the runtime are a
 * fixed overhead, taken off the machine ceilings. Decisions are made when a request arrives (so
 * a refusal is immediate) and hold for its life.
 */
export class AdaptiveEngine {
  readonly weights: WeightProvider;
  private readonly cache: BlockCache<CachedEntry> | null;
  private readonly cached: CachedWeightProvider | null;
  private readonly segments: SegmentStore | null;
  private readonly governor: Governor;
  private readonly budget: MemoryBudget;
  private readonly choices = new Map<string, { choice: AdaptiveChoice; layerIndices: number[] | undefined }>();
  private readonly refreshSteps: number;
  private readonly fixedBytes: number;
  private readonly calibrated: boolean;
  private readonly precisions: string[];
  private steps = 0;

  constructor(model: Pick<LoadedModel, 'weights' | 'format' | 'path' | 'config'>, options: AdaptiveOptions) {
    const config = model.config;
    const calibration = model.format === 'ewm' ? readCalibration(model.path) : { layerImportance: null, qualityTables: null };
    this.calibrated = calibration.layerImportance !== null;
    const ewm = model.format === 'ewm' && options.cacheBlocks !== false && model.weights instanceof EwmWeightProvider ? model.weights : null;
    const globals = 4 * config.hiddenSize * (config.vocabSize * (config.tieWordEmbeddings ? 1 : 2) + 1);
    // Lower rungs need the container provider: on the CPU path for compact forms and plane reads; on the webgpu backend
    // (no host cache) its store goes to the GPU as bit-planes and each rung's kernels read the planes they keep.
    const gpuRungs = model.format === 'ewm' && options.cacheBlocks === false && model.weights instanceof EwmWeightProvider;
    this.precisions = ewm !== null || gpuRungs ? PRECISIONS.map((p) => p.name) : [LOSSLESS];
    this.cache = ewm !== null ? new BlockCache<CachedEntry>(0) : null;
    const budgeted = ewm !== null ? budgetedWeights(ewm, this.cache!) : null;
    this.segments = budgeted?.segments ?? null;
    this.cached = budgeted?.weights ?? null;
    const store = (model.weights as { residentBytes?: number }).residentBytes ?? 0;
    this.fixedBytes = store + globals + (this.segments?.scratchBytes ?? 0);
    this.budget = new MemoryBudget({ operatorBytes: options.budgetBytes, probe: options.probe, overheadBytes: this.fixedBytes });
    this.governor = new Governor(
      {
        numLayers: config.numLayers,
        ranking: calibration.layerImportance?.ranking ?? null,
        qualityTable: calibration.qualityTables,
        blockBytes: blockBytes(config),
        // NOTE: on the GPU every rung decodes from the one resident store into the same buffers: a lower rung saves bytes read, not memory.
        precisions: ewm !== null ? servedPrecisions(ewm) : gpuRungs ? PRECISIONS.map((p) => ({ name: p.name, blockBytes: blockBytes(config) })) : undefined,
        kvBytesPerTokenLayer: 2 * config.numKvHeads * config.headDim * 4,
        maxSeqLen: options.maxSeqLen,
        defaultQuality: options.defaultQuality ?? 'high',
      },
      this.budget.effectiveBytes,
    );
    this.weights = this.cached ?? model.weights;
    this.resizeCache();
    this.refreshSteps = options.refreshSteps ?? 16;
    this.budget.onChange((r) => {
      this.governor.setBudget(r.effectiveBytes);
      this.resizeCache();
    });
    // The timer fires between steps too (the worker yields after each), and never keeps the thread alive.
    this.budget.start(options.refreshMs ?? 1000);
  }

  /** The adaptive runner calls this before each precision group of a step (undefined = lossless). */
  selectPrecision(precision: string | undefined): void {
    this.cached?.selectPrecision((precision ?? LOSSLESS) as PrecisionName);
  }

  /** Decides the request's depth and reserves its KV bytes; throws 'budget' / 'invalid_request'. */
  admit(req: GenerationRequest, queue: QueueState): void {
    const d = this.governor.admit(req.reqId, req.adaptive, req.promptIds.length + req.maxTokens, queue);
    this.choices.set(req.reqId, { choice: d.choice, layerIndices: d.layerIndices });
    this.resizeCache();
  }

  sequenceOptions(reqId: string | undefined): AdaptiveSequenceOptions | undefined {
    const c = reqId === undefined ? undefined : this.choices.get(reqId);
    if (c === undefined) return undefined;
    return { layerIndices: c.layerIndices, precision: c.choice.precision };
  }

  /** Adds the choice to each done event and returns the request's KV bytes to the cache. */
  decorate(events: GenerationEvent[]): GenerationEvent[] {
    let released = false;
    for (const e of events) {
      if (e.type !== 'done') continue;
      const c = this.choices.get(e.reqId);
      if (c === undefined) continue;
      e.adaptive = c.choice;
      this.choices.delete(e.reqId);
      this.governor.release(e.reqId);
      released = true;
    }
    if (released) this.resizeCache();
    return events;
  }

  /** Called once per engine step: re-reads the machine's limits every `refreshSteps` steps. */
  onStep(): void {
    if (++this.steps % this.refreshSteps === 0) this.budget.refresh();
  }

  /** Admin: new operator budget (null = machine limits only); evicts at once when it shrinks. */
  setBudget(bytes: number | null): AdaptiveState {
    this.budget.setOperatorBytes(bytes);
    this.governor.setBudget(this.budget.effectiveBytes);
    this.resizeCache();
    return this.state();
  }

  state(): AdaptiveState {
    const r = this.budget.reading;
    const depthCounts: Record<string, number> = {};
    const precisionCounts: Record<string, number> = {};
    for (const { choice } of this.choices.values()) {
      depthCounts[choice.depth] = (depthCounts[choice.depth] ?? 0) + 1;
      precisionCounts[choice.precision] = (precisionCounts[choice.precision] ?? 0) + 1;
    }
    return {
      budgetBytes: r.effectiveBytes, operatorBytes: r.operatorBytes, budgetSource: r.source, kvReservedBytes: this.governor.kvReservedBytes,
      cache: this.blockStats(), segments: this.segmentStats(), fixedBytes: this.fixedBytes,
      precisions: this.precisions, numLayers: this.weights.config.numLayers, calibrated: this.calibrated, depthCounts, precisionCounts,
    };
  }

  /** Cache counters with entries counting decoded blocks only (usedBytes covers held segments too). */
  private blockStats(): CacheStats | null {
    if (this.cache === null) return null;
    return { ...this.cache.stats(), entries: this.cache.countWhere((k) => !isSegmentKey(k)).entries };
  }

  private segmentStats(): SegmentStats | null {
    if (this.segments === null || this.cache === null) return null;
    const held = this.cache.countWhere(isSegmentKey);
    return { ...this.segments.stats, entries: held.entries, bytes: held.bytes };
  }

  private resizeCache(): void {
    this.cache?.resize(this.governor.cacheCapacity());
  }
}
