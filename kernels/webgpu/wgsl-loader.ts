// Reads kernels/wgsl/*.wgsl and applies a tiny preprocessor (#if/#else/#endif, ${NAME} constants).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Compile-time switches and constants of one kernel variant. */
export type Defines = Record<string, boolean | number>;

let wgslDir: string | null = null;

function findWgslDir(): string {
  // NOTE: tsc does not copy .wgsl into dist/, so walk up from this file to the repo's kernels/wgsl.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'kernels', 'wgsl');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('kernels/wgsl not found above ' + fileURLToPath(import.meta.url));
}

const sourceCache = new Map<string, string>();

function readSource(name: string): string {
  let text = sourceCache.get(name);
  if (text === undefined) {
    wgslDir ??= findWgslDir();
    text = readFileSync(join(wgslDir, name + '.wgsl'), 'utf8');
    sourceCache.set(name, text);
  }
  return text;
}

/**
 * Preprocesses WGSL: `#if NAME` / `#if !NAME` / `#else` / `#endif` keep or drop lines by a
 * boolean define (nesting allowed), `#include "file"` inlines kernels/wgsl/file.wgsl, and
 * `${NAME}` is replaced by a numeric define.
 */
export function preprocessWgsl(text: string, defines: Defines, include: (name: string) => string = readSource): string {
  const out: string[] = [];
  const stack: { active: boolean; parentActive: boolean }[] = [];
  const active = (): boolean => (stack.length === 0 ? true : stack[stack.length - 1].active);
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    const ifMatch = /^#if\s+(!?)(\w+)$/.exec(trimmed);
    if (ifMatch) {
      const value = Boolean(defines[ifMatch[2]]);
      const parentActive = active();
      stack.push({ active: parentActive && (ifMatch[1] === '!' ? !value : value), parentActive });
      continue;
    }
    if (trimmed === '#else') {
      const top = stack[stack.length - 1];
      if (!top) throw new Error('#else without #if');
      top.active = top.parentActive && !top.active;
      continue;
    }
    if (trimmed === '#endif') {
      if (!stack.pop()) throw new Error('#endif without #if');
      continue;
    }
    if (!active()) continue;
    const inc = /^#include\s+"([\w-]+)"$/.exec(trimmed);
    if (inc) {
      out.push(preprocessWgsl(include(inc[1]), defines, include));
      continue;
    }
    out.push(
      line.replace(/\$\{(\w+)\}/g, (_m, key: string) => {
        const v = defines[key];
        if (typeof v !== 'number') throw new Error(`WGSL constant \${${key}} has no numeric define`);
        return String(v);
      }),
    );
  }
  if (stack.length !== 0) throw new Error('#if without #endif');
  return out.join('\n');
}

/** The preprocessed source of kernels/wgsl/<name>.wgsl. */
export function loadWgsl(name: string, defines: Defines): string {
  return preprocessWgsl(readSource(name), defines);
}
