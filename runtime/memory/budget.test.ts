// Budget parsing, cgroup v1/v2 limits, and the effective budget as the minimum of its sources.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBudget, parseBytes, parseMemAvailable, readCgroupLimit, type MemoryProbe } from './budget.js';
import { EdgewiseError } from '../errors.js';

test('parseBytes accepts bytes and decimal/binary units', () => {
  assert.equal(parseBytes('1048576'), 1048576);
  assert.equal(parseBytes('512MB'), 512e6);
  assert.equal(parseBytes('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseBytes('1.5 gib'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('64k'), 65536);
  assert.equal(parseBytes('3G'), 3 * 1024 ** 3);
  for (const bad of ['', 'abc', '-5MB', '12XB', '0', '1e9', 'MB']) {
    assert.throws(() => parseBytes(bad), (e: unknown) => e instanceof EdgewiseError && e.kind === 'invalid_request', bad);
  }
});

test('readCgroupLimit reads v2 memory.max and v1 limit_in_bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cgroup-'));
  try {
    const v2 = join(dir, 'v2');
    mkdirSync(v2);
    writeFileSync(join(v2, 'memory.max'), 'max\n');
    assert.equal(readCgroupLimit(v2), null);
    writeFileSync(join(v2, 'memory.max'), '536870912\n');
    assert.equal(readCgroupLimit(v2), 536870912);
    const v1 = join(dir, 'v1');
    mkdirSync(join(v1, 'memory'), { recursive: true });
    writeFileSync(join(v1, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n');
    assert.equal(readCgroupLimit(v1), null);
    writeFileSync(join(v1, 'memory', 'memory.limit_in_bytes'), '1073741824\n');
    assert.equal(readCgroupLimit(v1), 1073741824);
    assert.equal(readCgroupLimit(join(dir, 'none')), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(parseMemAvailable('MemTotal: 100 kB\nMemAvailable:    2048 kB\n'), 2048 * 1024);
  assert.equal(parseMemAvailable(null), null);
});

test('effective budget is the minimum of operator, cgroup and available ceilings; listeners hear changes', () => {
  const MiB = 1024 ** 2;
  const state = { limit: null as number | null, avail: 4000 * MiB as number | null, rss: 100 * MiB };
  const probe: MemoryProbe = { cgroupLimit: () => state.limit, memAvailable: () => state.avail, rss: () => state.rss };
  const budget = new MemoryBudget({ operatorBytes: 1000 * MiB, headroomBytes: 64 * MiB, probe });
  assert.equal(budget.effectiveBytes, 1000 * MiB);
  assert.equal(budget.reading.source, 'operator');
  const seen: number[] = [];
  budget.onChange((r) => seen.push(r.effectiveBytes));
  state.limit = 800 * MiB;
  assert.equal(budget.refresh().effectiveBytes, 736 * MiB);
  assert.equal(budget.reading.source, 'cgroup');
  state.avail = 300 * MiB; // rss 100 + 300 - 64
  assert.equal(budget.refresh().effectiveBytes, 336 * MiB);
  assert.equal(budget.reading.source, 'available');
  budget.refresh(); // unchanged: no notification
  budget.setOperatorBytes(200 * MiB);
  assert.deepEqual(seen, [736 * MiB, 336 * MiB, 200 * MiB]);
  assert.throws(() => budget.setOperatorBytes(-1), EdgewiseError);
  const unlimited = new MemoryBudget({ operatorBytes: null, probe: { cgroupLimit: () => null, memAvailable: () => null, rss: () => 1 } });
  assert.equal(unlimited.effectiveBytes, Number.MAX_SAFE_INTEGER);
});
