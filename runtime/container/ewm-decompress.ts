// Writes a container back out as a Hugging Face folder: same small files, same safetensors files byte for byte.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../model/safetensors-writer.js';
import { EwmFile } from './ewm-reader.js';

export interface DecompressReport {
  files: string[];
  tensors: number;
  bytesWritten: number;
}

/** Decompresses `ewmPath` into `outDir` (created if needed); `onProgress(tensors done, total)`. */
export function decompressEwm(ewmPath: string, outDir: string, onProgress?: (done: number, total: number) => void): DecompressReport {
  const file = EwmFile.open(ewmPath);
  try {
    mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    let bytesWritten = 0;
    const smallFiles: [string, string | Uint8Array][] = [...Object.entries(file.metadata.files), ...Object.entries(file.metadata.binaryFiles ?? {})];
    for (const [name, content] of smallFiles) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') continue;
      writeFileSync(join(outDir, name), content);
      written.push(name);
      bytesWritten += typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
    }
    // Tensors of a file are mostly in segment order: keep the last segment read.
    let cached: { index: number; bytes: Uint8Array } | null = null;
    const segmentBytes = (index: number): Uint8Array => {
      if (cached?.index !== index) cached = { index, bytes: file.readSegment(index) };
      return cached.bytes;
    };
    const total = file.metadata.tensors.length;
    let done = 0;
    for (const st of file.metadata.safetensors) {
      if (st.file.includes('/') || st.file.includes('\\')) continue;
      const tensors = st.tensors.map((name) => {
        const t = file.tensor(name);
        return {
          name, dtype: t.dtype, shape: t.shape,
          data: () => {
            const bytes = file.tensorBytes(t, segmentBytes(t.segment));
            bytesWritten += bytes.length;
            onProgress?.(++done, total);
            return bytes;
          },
        };
      });
      // The source header verbatim gives a byte-identical file, unless --cast-fp32 changed a dtype.
      const sameDtypes = st.tensors.every((name) => file.tensor(name).dtype === file.tensor(name).sourceDtype);
      writeSafetensors(join(outDir, st.file), tensors, st.metadata ?? {}, sameDtypes ? (st.header ?? undefined) : undefined);
      written.push(st.file);
    }
    return { files: written, tensors: total, bytesWritten };
  } finally {
    file.close();
  }
}
