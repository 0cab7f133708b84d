// Human-readable summary of a container for `edgewise info`: segments, sizes, codebooks, bits per weight.

import { statSync } from 'node:fs';
import { EwmFile } from './ewm-reader.js';
import { parseHfConfig } from '../model/hf-config.js';
import type { ModelConfig } from '../model/model-config.js';
import { NUM_PARTS, partStart } from './ewm-format.js';
import { ModelFormatError } from '../errors.js';
import { PRECISIONS, planesFor } from './precision.js';

/** One precision rung's cost per coded weight: bits read from the store per block, bytes the decoded-block cache holds. */
export interface EwmRungInfo {
  name: string;
  lossless: boolean;
  /** Mantissa bits kept (of 7 for a BF16 store, of 10 for an FP16 one). */
  mantissaBits: number;
  /** Segment bytes read (the rung's parts, padding included) × 8 / coded weights, over all coded segments. */
  readBitsPerWeight: number;
  /** Bytes per weight of a transformer block as the decoded-block cache holds it at this rung. */
  cachedBytesPerWeight: number;
}

export interface EwmSegmentInfo {
  name: string;
  offset: number;
  bytes: number;
  tensors: number;
  /** Elements coded with huff8. */
  weights: number;
  /** Segment bits per coded weight (index, stream, raw bytes and padding). */
  bitsPerWeight: number | null;
  /** Distinct symbols in the codebook and its longest code. */
  codebook: { symbols: number; maxLength: number; meanLength: number } | null;
  /** With `verify`: 'ok', or why the segment's bytes fail their checksums; absent otherwise. */
  checksum?: string;
}

export interface EwmInfo {
  path: string;
  config: ModelConfig;
  fileBytes: number;
  metadataBytes: number;
  chunkSize: number;
  weights: number;
  bitsPerWeight: number;
  segments: EwmSegmentInfo[];
  /** Container version and the precision rungs it serves. */
  version: number;
  /** Stored dtype of the coded weights ('BF16', 'F16', or 'mixed'): FP16 rungs keep 3 more mantissa bits (docs/format.md 2.6). */
  codedDtype: string;
  rungs: EwmRungInfo[];
  /** Written by `edgewise calibrate` (docs/adaptive.md), else null. */
  calibration: { ranking: number[]; points: { depth: number; precision: string; perplexity: number }[] } | null;
}

/** `verify`: read every segment and check its parts' CRC-32C (reads the whole file). */
export function describeEwm(path: string, options: { verify?: boolean } = {}): EwmInfo {
  const file = EwmFile.open(path);
  try {
    const { segments, tensors, codec } = file.metadata;
    const infos: EwmSegmentInfo[] = segments.map((s, i) => {
      const own = tensors.filter((t) => t.segment === i);
      const coded = own.filter((t) => t.codec === 'huff8');
      const weights = coded.reduce((a, t) => a + t.numElements!, 0);
      const bits = coded.reduce((a, t) => a + t.bitLength!, 0);
      let codebook: EwmSegmentInfo['codebook'] = null;
      if (s.codeLengths !== null) {
        const used = [...s.codeLengths].filter((l) => l > 0);
        codebook = { symbols: used.length, maxLength: Math.max(...used), meanLength: weights > 0 ? bits / weights : 0 };
      }
      const info: EwmSegmentInfo = { name: s.name, offset: s.offset, bytes: s.length, tensors: own.length, weights, bitsPerWeight: weights > 0 ? (s.length * 8) / weights : null, codebook };
      if (options.verify) info.checksum = verifySegment(file, i);
      return info;
    });
    const weights = infos.reduce((a, s) => a + s.weights, 0);
    const codedBytes = infos.reduce((a, s) => a + (s.weights > 0 ? s.bytes : 0), 0);
    const blockTensors = tensors.filter((t) => segments[t.segment].name.startsWith('layer.'));
    const dtypes = [...new Set(tensors.filter((t) => t.codec === 'huff8').map((t) => t.dtype))];
    const codedDtype = dtypes.length === 1 ? dtypes[0] : dtypes.length === 0 ? 'none' : 'mixed';
    const blockWeights = blockTensors.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
    const rungs: EwmRungInfo[] = PRECISIONS.map((r) => {
      const read = segments.reduce((a, seg, i) => a + (infos[i].weights > 0 ? partStart(seg, r.planes) : 0), 0);
      const cached = blockTensors.reduce((a, t) => {
        const n = t.shape.reduce((x, d) => x * d, 1);
        const keep = planesFor(t, r);
        return a + (t.codec === 'raw' || keep === NUM_PARTS ? 4 * n : n + keep * Math.ceil(n / 4));
      }, 0);
      return { name: r.name, lossless: r.lossless, mantissaBits: r.mantissaBits + (codedDtype === 'F16' ? 3 : 0), readBitsPerWeight: weights > 0 ? (read * 8) / weights : 0, cachedBytesPerWeight: blockWeights > 0 ? cached / blockWeights : 0 };
    });
    return {
      path, config: parseHfConfig(file.metadata.config, `${path} config.json`), fileBytes: statSync(path).size, metadataBytes: file.header.metadataLength, chunkSize: codec.chunkSize,
      weights, bitsPerWeight: weights > 0 ? (codedBytes * 8) / weights : 0, segments: infos, version: file.header.version, codedDtype, rungs,
      calibration: file.metadata.layerImportance ? { ranking: file.metadata.layerImportance.ranking, points: file.metadata.qualityTables?.points ?? [] } : null,
    };
  } finally {
    file.close();
  }
}

function verifySegment(file: EwmFile, index: number): string {
  try {
    file.readSegmentPrefix(index, NUM_PARTS);
    return 'ok';
  } catch (err) {
    if (err instanceof ModelFormatError) return err.message;
    throw err;
  }
}

export function formatEwmInfo(info: EwmInfo, formatBytes: (n: number) => string): string {
  const lines = [
    `path          ${info.path}`,
    `format        ewm version ${info.version} (huff8 with bit-planes, chunk ${info.chunkSize})`,
    `architecture  ${info.config.architecture}, ${info.config.numLayers} layers, hidden ${info.config.hiddenSize}, vocab ${info.config.vocabSize}`,
    `file          ${formatBytes(info.fileBytes)} (metadata ${formatBytes(info.metadataBytes)})`,
    `weights       ${info.weights} coded, ${info.bitsPerWeight.toFixed(3)} bits/weight (${((info.bitsPerWeight / 16) * 100).toFixed(1)}% of BF16)`,
    ...info.rungs.map((r, i) =>
      `${i === 0 ? 'precisions   ' : '             '} ${r.name.padEnd(5)} ${r.lossless ? 'lossless        ' : `${r.mantissaBits}-bit mantissa  `} reads ${r.readBitsPerWeight.toFixed(3)} bits/weight, caches ${r.cachedBytesPerWeight.toFixed(3)} bytes/weight${r.lossless ? ' (fp32)' : ' (symbol byte + planes)'}`),
    `calibration   ${info.calibration === null ? 'none (run edgewise calibrate: full depth only)' : `blocks by importance ${info.calibration.ranking.join(' ')}; perplexity ${info.calibration.points.map((p) => `d${p.depth}/${p.precision} ${p.perplexity.toFixed(2)}`).join(', ')}`}`,
    '',
    `segment        offset        size  tensors  bits/weight  ${info.segments.some((s) => s.checksum !== undefined) ? 'checksum  ' : ''}codebook`,
  ];
  for (const s of info.segments) {
    const cb = s.codebook === null ? '-' : `${s.codebook.symbols} symbols, max ${s.codebook.maxLength} bits, mean ${s.codebook.meanLength.toFixed(3)}`;
    lines.push(
      `${s.name.padEnd(12)} ${String(s.offset).padStart(8)} ${formatBytes(s.bytes).padStart(11)}  ${String(s.tensors).padStart(7)}  ${(s.bitsPerWeight === null ? '-' : s.bitsPerWeight.toFixed(3)).padStart(11)}  ${s.checksum === undefined ? '' : `${s.checksum === 'ok' ? 'ok' : 'CORRUPT'}`.padEnd(10)}${cb}`,
    );
  }
  return lines.join('\n') + '\n';
}
