// Typed field readers for parsed JSON model files; each failure names the file and the field.

import { ModelFormatError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The file's top level must be a JSON object. */
export function asObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new ModelFormatError(where, 'expected a JSON object at the top level');
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `"${value.slice(0, 40)}"` : `${typeof value} ${String(value).slice(0, 40)}`;
}

/** A required (or defaulted when `fallback` is given) positive/non-negative integer field. */
export function intField(obj: JsonObject, key: string, where: string, opts: { fallback?: number; min?: number } = {}): number {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (opts.fallback !== undefined) return opts.fallback;
    throw new ModelFormatError(where, `missing required field "${key}"`);
  }
  const min = opts.min ?? 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ModelFormatError(where, `field "${key}" must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** A required (or defaulted) finite number field, strictly positive. */
export function positiveNumberField(obj: JsonObject, key: string, where: string, fallback?: number): number {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(where, `missing required field "${key}"`);
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ModelFormatError(where, `field "${key}" must be a positive number, got ${describe(value)}`);
  }
  return value;
}

export function boolField(obj: JsonObject, key: string, where: string, fallback: boolean): boolean {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new ModelFormatError(where, `field "${key}" must be true or false, got ${describe(value)}`);
  return value;
}

export function stringField(obj: JsonObject, key: string, where: string, fallback?: string): string {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(where, `missing required field "${key}"`);
  }
  if (typeof value !== 'string') throw new ModelFormatError(where, `field "${key}" must be a string, got ${describe(value)}`);
  return value;
}

/** A token id field that HF writes as an int, a list of ints, or null. */
export function tokenIdListField(obj: JsonObject, key: string, where: string): number[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ModelFormatError(where, `field "${key}" must be a token id or a list of token ids, got ${describe(value)}`);
    }
  }
  return list as number[];
}
