// Shared CLI helpers: the command contract, argument parsing with range checks, error reporting, progress bars.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import cliProgress from 'cli-progress';
import { EdgewiseError, InvalidRequestError } from '../runtime/errors.js';

/** What every bin/commands/<name>.ts exports as `command`. */
export interface CliCommand {
  name: string;
  /** One line, shown in `edgewise --help`. */
  summary: string;
  /** Usage line(s) and options, printed under the summary by `edgewise <name> --help`. */
  usage: string;
  /** argv = the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** Bad command-line usage: reported in one line, exit code 2. */
export class UsageError extends InvalidRequestError {
  constructor(message: string, param: string | null = null) {
    super(message, param);
    this.name = 'UsageError';
  }
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * util.parseArgs in strict mode, with its errors turned into one-line UsageErrors and the
 * positional count checked. `--help` is handled by the dispatcher before `run` is called.
 */
export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  positionals: { min: number; max: number; names?: string } = { min: 0, max: 0 },
): { values: ReturnType<typeof parseArgs<{ options: O; args: string[]; allowPositionals: true; strict: true }>>['values']; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // Drop node's long hint about '--' after the first sentence.
    throw new UsageError((err as Error).message.split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing argument${positionals.names ? ` ${positionals.names}` : ''}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`);
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Parses an integer option; absent → fallback (or a UsageError when no fallback). */
export function parseIntOption(value: string | undefined, flag: string, range: { min?: number; max?: number; fallback?: number } = {}): number {
  if (value === undefined) {
    if (range.fallback !== undefined) return range.fallback;
    throw new UsageError(`${flag} is required`, flag);
  }
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
  checkRange(n, value, flag, range, 'an integer');
  return n;
}

/** Parses a finite number option; absent → fallback (or a UsageError when no fallback). */
export function parseFloatOption(value: string | undefined, flag: string, range: { min?: number; max?: number; fallback?: number } = {}): number {
  if (value === undefined) {
    if (range.fallback !== undefined) return range.fallback;
    throw new UsageError(`${flag} is required`, flag);
  }
  const n = value.trim() === '' ? NaN : Number(value);
  checkRange(n, value, flag, range, 'a number');
  return n;
}

function checkRange(n: number, raw: string, flag: string, range: { min?: number; max?: number }, what: string): void {
  const bounds =
    range.min !== undefined && range.max !== undefined
      ? ` in ${range.min}..${range.max}`
      : range.min !== undefined
        ? ` >= ${range.min}`
        : range.max !== undefined
          ? ` <= ${range.max}`
          : '';
  if (!Number.isFinite(n) || (range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw new UsageError(`${flag} must be ${what}${bounds}, got "${raw}"`, flag);
  }
}

/** Parses "5,17,33" into ids; each must be a non-negative integer. */
export function parseIdList(value: string, flag: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`${flag} must be comma-separated non-negative integers, got "${value}"`, flag);
  return parts.map(Number);
}

export function helpText(command: Pick<CliCommand, 'name' | 'summary' | 'usage'>): string {
  return `edgewise ${command.name}: ${command.summary}\n\n${command.usage.trimEnd()}\n`;
}

export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Prints one line `edgewise <cmd>: error: <message>` to stderr and returns the exit code.
 * Unexpected (non-Edgewise) errors get their stack only when EDGEWISE_DEBUG=1.
 */
export function reportError(commandName: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  const oneLine = message.split('\n')[0];
  process.stderr.write(`edgewise ${commandName}: error: ${oneLine}\n`);
  if (process.env.EDGEWISE_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** True for errors Edgewise raises on purpose (bad input, bad model), as opposed to bugs. */
export function isExpectedError(err: unknown): boolean {
  return err instanceof EdgewiseError;
}

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** A progress bar on stderr for long work; does nothing when stderr is not a terminal (pipes, CI, tests). */
export function createProgress(label: string, total: number): Progress {
  if (!process.stderr.isTTY || total <= 0) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (done) => bar.update(done), stop: () => bar.stop() };
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** 6234112 → "6.23M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
