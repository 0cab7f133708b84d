// Runs every compiled *.test.js under dist/ with node's built-in test runner.
// NOTE: node 20's `--test` does not expand globs, so we collect the files ourselves.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/', import.meta.url).pathname;
const filter = process.argv[2]; // optional substring to select test files
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js') && (!filter || path.includes(filter))) files.push(path);
  }
})(root);
files.sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did tsc run?)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
