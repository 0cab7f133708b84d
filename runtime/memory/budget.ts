// The memory budget: operator value (--memory-budget, admin), capped by the cgroup limit and available memory.

import { readFileSync } from 'node:fs';
import { InvalidRequestError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/**
 * Parses a byte count: `1048576`, `512MB` (decimal), `2GiB` / `2G` (binary), `1.5 GiB`.
 * NOTE: bare K/M/G are binary, as in docker and Kubernetes `Gi`-less shorthand used by operators.
 */
export function parseBytes(text: string, param = 'memory-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (m === null || unit === undefined) {
    throw new InvalidRequestError(`${param} must be bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), got "${text}"`, param);
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidRequestError(`${param} must be a positive byte count, got "${text}"`, param);
  return bytes;
}

/** Where the machine's limits come from; tests pass fakes. */
export interface MemoryProbe {
  /** The cgroup memory limit in bytes, or null when unlimited or unknown. */
  cgroupLimit(): number | null;
  /** /proc/meminfo MemAvailable in bytes, or null when unknown. */
  memAvailable(): number | null;
  /** This process's resident set size in bytes. */
  rss(): number;
}

/** cgroup v1 reports "no limit" as a huge page-rounded number. */
const UNLIMITED_V1 = 2 ** 60;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`, under `root`. */
export function readCgroupLimit(root = '/sys/fs/cgroup'): number | null {
  const v2 = readText(`${root}/memory.max`);
  if (v2 !== null) {
    const t = v2.trim();
    return t === 'max' || !/^\d+$/.test(t) ? null : Number(t);
  }
  const v1 = readText(`${root}/memory/memory.limit_in_bytes`) ?? readText(`${root}/memory.limit_in_bytes`);
  if (v1 === null || !/^\d+$/.test(v1.trim())) return null;
  const n = Number(v1.trim());
  return n >= UNLIMITED_V1 ? null : n;
}

/** MemAvailable from a /proc/meminfo text, in bytes. */
export function parseMemAvailable(meminfo: string | null): number | null {
  const m = meminfo === null ? null : /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo);
  return m === null ? null : Number(m[1]) * 1024;
}

export const systemProbe: MemoryProbe = {
  cgroupLimit: () => readCgroupLimit(),
  memAvailable: () => parseMemAvailable(readText('/proc/meminfo')),
  rss: () => process.memoryUsage.rss(),
};

export interface BudgetOptions {
  /** Operator budget (--memory-budget); null = only the machine's limits apply. */
  operatorBytes: number | null;
  /** Kept free below the cgroup limit and below available memory (default 64 MiB). */
  headroomBytes?: number;
  probe?: MemoryProbe;
  /**
   * Bytes the process holds outside the budget (runtime, compressed store, decoded embedding
   * and head): taken off the machine ceilings, which are whole-process figures.
   */
  overheadBytes?: number;
}

export interface BudgetReading {
  /** What the engine may use now: min of the sources below that are known. */
  effectiveBytes: number;
  operatorBytes: number | null;
  /** cgroup limit − headroom − overhead. */
  cgroupCeiling: number | null;
  /** our RSS + MemAvailable − headroom − overhead: what we hold plus what we could still get. */
  availableCeiling: number | null;
  /** Which source set `effectiveBytes`. */
  source: 'operator' | 'cgroup' | 'available';
}

/**
 * The effective budget, re-read on `refresh()` (the engine calls it every few steps or on a
 * timer); listeners hear every change so the block cache can evict in the same step.
 */
export class MemoryBudget {
  private operator: number | null;
  private readonly headroom: number;
  private readonly probe: MemoryProbe;
  private readonly overhead: number;
  private last: BudgetReading;
  private readonly listeners: ((r: BudgetReading) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(options: BudgetOptions) {
    this.operator = options.operatorBytes;
    this.headroom = options.headroomBytes ?? 64 * 1024 ** 2;
    this.probe = options.probe ?? systemProbe;
    this.overhead = options.overheadBytes ?? 0;
    this.last = this.read();
  }

  get reading(): BudgetReading {
    return this.last;
  }

  get effectiveBytes(): number {
    return this.last.effectiveBytes;
  }

  /** Admin: a new operator budget (null = machine limits only); takes effect at once. */
  setOperatorBytes(bytes: number | null): BudgetReading {
    if (bytes !== null && (!Number.isSafeInteger(bytes) || bytes <= 0)) throw new InvalidRequestError(`budget must be a positive byte count, got ${bytes}`, 'budget');
    this.operator = bytes;
    return this.refresh();
  }

  onChange(listener: (r: BudgetReading) => void): void {
    this.listeners.push(listener);
  }

  /** Re-reads the machine's limits; notifies listeners when the effective budget moved. */
  refresh(): BudgetReading {
    const next = this.read();
    const changed = next.effectiveBytes !== this.last.effectiveBytes || next.operatorBytes !== this.last.operatorBytes;
    this.last = next;
    if (changed) for (const l of this.listeners) l(next);
    return next;
  }

  /** Refreshes every `intervalMs` without keeping the process alive. */
  start(intervalMs = 1000): void {
    this.stop();
    this.timer = setInterval(() => this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private read(): BudgetReading {
    const limit = this.probe.cgroupLimit();
    const avail = this.probe.memAvailable();
    const cgroupCeiling = limit === null ? null : Math.max(0, limit - this.headroom - this.overhead);
    const availableCeiling = avail === null ? null : Math.max(0, this.probe.rss() + avail - this.headroom - this.overhead);
    let effectiveBytes = Number.MAX_SAFE_INTEGER;
    let source: BudgetReading['source'] = 'operator';
    const consider = (v: number | null, s: BudgetReading['source']): void => {
      if (v !== null && v < effectiveBytes) {
        effectiveBytes = v;
        source = s;
      }
    };
    consider(this.operator, 'operator');
    consider(cgroupCeiling, 'cgroup');
    consider(availableCeiling, 'available');
    return { effectiveBytes, operatorBytes: this.operator, cgroupCeiling, availableCeiling, source };
  }
}
