// `edgewise info <model>`: architecture, shapes, parameter count and sizes of a model, without loading weights.

import type { RopeScaling } from '../../runtime/model/model-config.js';
import { summarizeModel, type ModelSummary } from '../../runtime/model/model-summary.js';
import { describeEwm, formatEwmInfo } from '../../runtime/container/ewm-info.js';
import { InvalidRequestError } from '../../runtime/errors.js';
import { formatBytes, formatCount, parseCommandArgs, type CliCommand } from '../cli-util.js';

function describeRope(theta: number, scaling: RopeScaling): string {
  switch (scaling.kind) {
    case 'none':
      return `theta ${theta}`;
    case 'linear':
      return `theta ${theta}, linear scaling ×${scaling.factor}`;
    case 'llama3':
      return `theta ${theta}, llama3 scaling ×${scaling.factor} (original context ${scaling.originalMaxPositionEmbeddings})`;
  }
}

export function formatSummary(s: ModelSummary): string {
  const c = s.config;
  const rows: [string, string][] = [
    ['path', s.path],
    ['format', s.format],
    ['architecture', `${c.architecture} (${c.modelType})`],
    ['layers', String(c.numLayers)],
    ['hidden', String(c.hiddenSize)],
    ['intermediate', String(c.intermediateSize)],
    ['heads', `${c.numHeads} (kv heads ${c.numKvHeads}, head dim ${c.headDim})`],
    ['vocab', String(c.vocabSize)],
    ['context', String(c.maxPositionEmbeddings)],
    ['rope', describeRope(c.ropeTheta, c.ropeScaling)],
    ['tied embeddings', c.tieWordEmbeddings ? 'yes' : 'no'],
    ['biases', [c.attentionBias && 'q/k/v', c.outputBias && 'o', c.mlpBias && 'mlp'].filter(Boolean).join(', ') || 'none'],
    ['parameters', `${formatCount(s.numParams)} (${s.numParams})`],
    ['on disk', `${formatBytes(s.diskBytes)} (${s.dtypes.join(' + ')}, ${s.numFiles} file${s.numFiles === 1 ? '' : 's'})`],
    ['in memory fp32', formatBytes(s.fp32Bytes)],
    ['in memory bf16', formatBytes(s.bf16Bytes)],
    ['tokenizer', s.tokenizerVocab === null ? 'none' : `${s.tokenizerVocab} tokens`],
    ['chat template', s.hasChatTemplate ? 'yes' : 'no'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

export const command: CliCommand = {
  name: 'info',
  summary: 'show the architecture, parameter count and sizes of a model',
  usage: `Usage: edgewise info <model-dir | model.ewm> [--json] [--verify]

  <model-dir>   a Hugging Face model folder (config.json + safetensors)
  <model.ewm>   a container: lists its segments, sizes, codebooks and bits/weight
  --json        print the summary as JSON
  --verify      (.ewm) read every segment and check its checksums; exit 1 naming the corrupt ones`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, verify: { type: 'boolean' } }, { min: 1, max: 1, names: '<model-dir>' });
    if (positionals[0].endsWith('.ewm')) {
      const info = describeEwm(positionals[0], { verify: values.verify });
      process.stdout.write(values.json ? `${JSON.stringify(info, null, 2)}\n` : formatEwmInfo(info, formatBytes));
      const corrupt = info.segments.filter((s) => s.checksum !== undefined && s.checksum !== 'ok');
      for (const s of corrupt) process.stderr.write(`edgewise info: error: ${s.checksum}\n`);
      return corrupt.length === 0 ? 0 : 1;
    }
    if (values.verify) throw new InvalidRequestError('--verify checks an .ewm container\'s segment checksums; a folder has none', 'verify');
    const summary = summarizeModel(positionals[0]);
    process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    return 0;
  },
};
