// Reads and rewrites the calibration keys (layerImportance, qualityTables) of an existing .ewm container.

import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { crc32c } from '../../kernels/codec/codec.js';
import { encodeHeader, type EwmMetadata } from '../container/ewm-format.js';
import { EwmFile } from '../container/ewm-reader.js';
import type { LayerImportance, QualityTable } from './calibration-types.js';

export interface CalibrationData {
  layerImportance: LayerImportance | null;
  qualityTables: QualityTable | null;
}

export function readCalibration(path: string): CalibrationData {
  const file = EwmFile.open(path);
  try {
    const m = file.metadata as unknown as Partial<CalibrationData>;
    return { layerImportance: m.layerImportance ?? null, qualityTables: m.qualityTables ?? null };
  } finally {
    file.close();
  }
}

/**
 * Replaces the given keys in the container's metadata. Segments are untouched: the metadata
 * sits at the end of the file, so it is rewritten in place, the file truncated to its new end,
 * and the header (lengths, metadata CRC) written last.
 * NOTE: a crash between the metadata and header writes leaves a container that fails its
 * header/metadata checksums (refused, never misread); rerun `calibrate` to repair it.
 */
export function writeCalibration(path: string, update: Partial<CalibrationData>): void {
  const file = EwmFile.open(path);
  let metadata: EwmMetadata;
  let offset: number;
  try {
    metadata = { ...file.metadata, ...update } as EwmMetadata;
    offset = file.header.metadataOffset;
  } finally {
    file.close();
  }
  const meta = new Packr({ useRecords: false }).pack(metadata);
  const fd = openSync(path, 'r+');
  try {
    writeFully(fd, meta, offset);
    const fileLength = offset + meta.length;
    ftruncateSync(fd, fileLength);
    writeFully(fd, encodeHeader({ metadataOffset: offset, metadataLength: meta.length, fileLength, metadataCrc32c: crc32c(meta) }, (b) => crc32c(b)), 0);
  } finally {
    closeSync(fd);
  }
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}
