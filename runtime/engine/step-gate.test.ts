// StepGate: a step while another runs and a step after dispose are engine_fatal; the gate reopens after a failed step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgewiseError } from '../errors.js';
import { StepGate } from './step-gate.js';

const fatal = (pattern: RegExp) => (e: unknown) => e instanceof EdgewiseError && e.kind === 'engine_fatal' && pattern.test(e.message);

test('one step at a time, reopened after success and failure, closed after dispose', async () => {
  const gate = new StepGate();
  let release!: () => void;
  const first = gate.run(() => new Promise<number>((resolve) => (release = () => resolve(7))));
  assert.equal(gate.busy, true);
  await assert.rejects(gate.run(async () => 1), fatal(/another step/));
  release();
  assert.equal(await first, 7);
  assert.equal(gate.busy, false);
  await assert.rejects(gate.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await gate.run(async () => 2), 2, 'a failed step leaves the gate open');
  assert.equal(gate.close(), true);
  assert.equal(gate.close(), false, 'dispose work happens once');
  await assert.rejects(gate.run(async () => 3), fatal(/disposed/));
});
