// `edgewise generate --prompt-ids … --print-ids --temperature 0` prints the PyTorch reference's greedy ids.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { DEFAULT_FIXTURE, REPO_ROOT, fixtureUnusable, readFixture } from './helpers/reference-fixtures.js';

const CLI = join(REPO_ROOT, 'dist', 'bin', 'edgewise.js');
const GENERATE = join(REPO_ROOT, 'dist', 'bin', 'commands', 'generate.js');

describe('edgewise generate --print-ids matches the reference greedy ids', { skip: existsSync(GENERATE) ? false : 'the generate command is not built' }, () => {
  // llama-gqa has no tokenizer.json (ids only); the default model has one.
  for (const name of ['llama-gqa', DEFAULT_FIXTURE]) {
    const fixture = readFixture(name);
    const skip = fixtureUnusable(fixture)?.reason ?? false;
    it(name, { skip }, () => {
      const args = [
        CLI, 'generate', '--model', fixture.modelDir, '--prompt-ids', fixture.promptIds.join(','),
        '--print-ids', '--temperature', '0', '--max-tokens', String(fixture.greedyIds.length),
      ];
      const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
      assert.equal(result.status, 0, `exit ${result.status}: ${result.stderr}`);
      const lines = result.stdout.trimEnd().split('\n');
      const printed = lines[lines.length - 1].split(',').map(Number);
      assert.deepEqual(printed, fixture.greedyIds.slice(0, printed.length), `last stdout line: ${lines[lines.length - 1]}`);
      // Generation may end early only at an EOS id (printed or not); the reference never stops.
      const config = JSON.parse(readFileSync(join(fixture.modelDir, 'config.json'), 'utf8')) as { eos_token_id?: number | number[] };
      const eosIds = ([] as number[]).concat(config.eos_token_id ?? []);
      const eosAt = fixture.greedyIds.findIndex((id) => eosIds.includes(id));
      if (eosAt < 0) assert.equal(printed.length, fixture.greedyIds.length, 'number of generated ids');
      else assert.ok(printed.length === eosAt || printed.length === eosAt + 1, `stopped at ${printed.length}, EOS at ${eosAt}`);
    });
  }
});
