// `edgewise convert <hf-dir> -o model.ewm`: losslessly compresses a Hugging Face folder into an .ewm container.

import { convertToEwm, type ConvertReport } from '../../runtime/container/ewm-writer.js';
import { createProgress, formatBytes, parseCommandArgs, parseIntOption, UsageError, type CliCommand } from '../cli-util.js';

export function formatConvertReport(r: ConvertReport): string {
  const ratio = r.sourceBytes > 0 ? (r.containerBytes / r.sourceBytes) * 100 : 0;
  const lines = [
    `size before   ${formatBytes(r.sourceBytes)} (safetensors)`,
    `size after    ${formatBytes(r.containerBytes)} (${ratio.toFixed(1)}% of before, metadata included)`,
    `bits/weight   ${r.bitsPerWeight.toFixed(3)} (${((r.bitsPerWeight / 16) * 100).toFixed(1)}% of BF16); entropy bound 8 + H(exponent) = ${r.entropyBoundBits.toFixed(3)} (gap ${(r.bitsPerWeight - r.entropyBoundBits).toFixed(3)})`,
    `precisions    ${Object.entries(r.rungBitsPerWeight).map(([name, bits]) => `${name} reads ${bits.toFixed(3)}`).join(', ')} bits/weight (one store; edgewise info shows cached bytes too)`,
    '',
    'segment      weights       bits/weight  bound (8+H)',
  ];
  for (const s of r.segments) {
    if (s.numWeights === 0) {
      lines.push(`${s.name.padEnd(12)} ${'-'.padStart(10)}  stored raw, ${formatBytes(s.storedBytes)}`);
      continue;
    }
    lines.push(`${s.name.padEnd(12)} ${String(s.numWeights).padStart(10)}  ${s.bitsPerWeight.toFixed(3).padStart(11)}  ${s.entropyBoundBits.toFixed(3).padStart(11)}`);
  }
  return lines.join('\n') + '\n';
}

export const command: CliCommand = {
  name: 'convert',
  summary: 'compress a Hugging Face model folder into an .ewm container (lossless for BF16/F16)',
  usage: `Usage: edgewise convert <hf-dir> -o <model.ewm> [options]

  <hf-dir>            folder with config.json and model.safetensors (or shards)
  -o, --output FILE   the container to write
  --cast-fp32         cast F32 tensors to BF16 first (lossy; a warning is printed)
  --keep-fp32         store F32 tensors uncompressed instead
  --chunk-size N      elements per decode chunk, a power of two in 256..65536 (default 4096)
  --json              print the size report as JSON`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        output: { type: 'string', short: 'o' },
        'cast-fp32': { type: 'boolean' },
        'keep-fp32': { type: 'boolean' },
        'chunk-size': { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1, names: '<hf-dir>' },
    );
    if (values.output === undefined) throw new UsageError('-o <model.ewm> is required', '--output');
    if (values['cast-fp32'] && values['keep-fp32']) throw new UsageError('--cast-fp32 and --keep-fp32 exclude each other');
    const chunkSize = parseIntOption(values['chunk-size'], '--chunk-size', { min: 256, max: 65536, fallback: 4096 });
    let progress: ReturnType<typeof createProgress> | null = null;
    const report = convertToEwm(positionals[0], values.output, {
      castFp32: values['cast-fp32'] === true,
      keepFp32: values['keep-fp32'] === true,
      chunkSize,
      onWarning: (m) => process.stderr.write(`edgewise convert: warning: ${m}\n`),
      onProgress: (done, total) => {
        progress ??= createProgress('convert', total);
        progress.update(done);
        if (done === total) progress.stop();
      },
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatConvertReport(report));
    return 0;
  },
};
