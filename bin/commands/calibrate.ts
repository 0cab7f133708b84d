// `edgewise calibrate model.ewm`: ranks blocks on held-out text and stores the quality table in the container.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calibrateContainer } from '../../runtime/calibration/calibrate.js';
import { parseCommandArgs, parseIntOption, UsageError, type CliCommand } from '../cli-util.js';

const DEFAULT_TEXT = join(new URL('../../../', import.meta.url).pathname, 'models/default/calibration.txt');

export const command: CliCommand = {
  name: 'calibrate',
  summary: 'rank blocks (Block Influence) and measure held-out perplexity per depth and precision rung into an .ewm container',
  usage: `Usage: edgewise calibrate <model.ewm> [options]

  --text FILE         held-out text (default models/default/calibration.txt)
  --tokens N          held-out tokens to use (default 8192)
  --window N          tokens per scored window (default 128)
  --precisions LIST  comma-separated rungs to measure (default every rung: bf16,e8m3,e8m1)
  --threads N         onnxruntime threads
  --json              print the stored ranking and table as JSON`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { text: { type: 'string' }, tokens: { type: 'string' }, window: { type: 'string' }, threads: { type: 'string' }, precisions: { type: 'string' }, json: { type: 'boolean' } },
      { min: 1, max: 1, names: '<model.ewm>' },
    );
    const textPath = values.text ?? DEFAULT_TEXT;
    if (!existsSync(textPath)) throw new UsageError(`held-out text not found: ${textPath}`, '--text');
    const windowTokens = parseIntOption(values.window, '--window', { min: 8, max: 4096, fallback: 128 });
    const maxTokens = parseIntOption(values.tokens, '--tokens', { min: windowTokens, fallback: 8192 });
    const threads = values.threads === undefined ? undefined : parseIntOption(values.threads, '--threads', { min: 1, max: 256 });
    const precisions = values.precisions?.split(',').map((p) => p.trim());
    const result = await calibrateContainer(positionals[0], readFileSync(textPath, 'utf8'), {
      windowTokens, maxTokens, threads, precisions,
      onPoint: values.json ? undefined : (line) => process.stderr.write(`edgewise calibrate: ${line}\n`),
    });
    if (values.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return 0;
    }
    const { layerImportance: li, qualityTables: qt } = result;
    const lines = [`ranking (most important first): ${li.ranking.join(' ')}  (${li.numTokens} tokens)`, '', 'depth  precision  perplexity'];
    for (const p of qt.points) lines.push(`${String(p.depth).padStart(5)}  ${p.precision.padEnd(9)}  ${p.perplexity.toFixed(3).padStart(10)}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
