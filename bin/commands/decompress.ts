// `edgewise decompress model.ewm -o <dir>`: writes the Hugging Face folder back, tensors byte-identical.

import { decompressEwm } from '../../runtime/container/ewm-decompress.js';
import { createProgress, formatBytes, parseCommandArgs, UsageError, type CliCommand } from '../cli-util.js';

export const command: CliCommand = {
  name: 'decompress',
  summary: 'write an .ewm container back out as a Hugging Face model folder',
  usage: `Usage: edgewise decompress <model.ewm> -o <dir>

  <model.ewm>         the container
  -o, --output DIR    folder to write (created if missing; files in it are overwritten)`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' } }, { min: 1, max: 1, names: '<model.ewm>' });
    if (values.output === undefined) throw new UsageError('-o <dir> is required', '--output');
    let progress: ReturnType<typeof createProgress> | null = null;
    const report = decompressEwm(positionals[0], values.output, (done, total) => {
      progress ??= createProgress('decompress', total);
      progress.update(done);
      if (done === total) progress.stop();
    });
    process.stdout.write(`wrote ${report.files.join(', ')} to ${values.output} (${report.tensors} tensors, ${formatBytes(report.bytesWritten)})\n`);
    return 0;
  },
};
