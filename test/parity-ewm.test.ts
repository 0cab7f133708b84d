// The CPU engine reading .ewm containers (converted from each fixture) against the same PyTorch reference.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

import { convertToEwm } from '../runtime/container/ewm-writer.js';
import { defineParitySuite } from './helpers/parity-suite.js';
import type { ReferenceFixture } from './helpers/reference-fixtures.js';

// NOTE: F32 fixtures are stored raw (keepFp32) so the container is lossless and the fp32
// tolerance still applies; the bf16 / fp16 fixtures go through the huff8 codec.
const workDir = mkdtempSync(join(tmpdir(), 'edgewise-parity-ewm-'));
const converted = new Map<string, string>();
after(() => rmSync(workDir, { recursive: true, force: true }));

function ewmPathFor(fixture: ReferenceFixture): string {
  let path = converted.get(fixture.name);
  if (path === undefined) {
    path = join(workDir, `${fixture.name}.ewm`);
    convertToEwm(fixture.modelDir, path, { keepFp32: true });
    converted.set(fixture.name, path);
  }
  return path;
}

defineParitySuite('cpu', { modelPathFor: ewmPathFor, label: 'cpu, .ewm container' });
