// Positional file reads shared by the weight-file readers (safetensors, containers): open read-only, read exactly.

import { openSync, readSync } from 'node:fs';
import { ModelFormatError } from '../errors.js';

/** Stay under Node's per-read limit (2 GiB - 1) on large tensors. */
const READ_CHUNK_BYTES = 1 << 30;

/** Opens `path` for reading; failure is a ModelFormatError naming the path and the errno code. */
export function openReadOnly(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw new ModelFormatError(path, `cannot open: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** Reads exactly `dst.length` bytes at `position` into `dst`, or throws naming `where`. */
export function readFully(fd: number, dst: Uint8Array, position: number, where: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = readSync(fd, dst, done, Math.min(READ_CHUNK_BYTES, dst.length - done), position + done);
    if (n === 0) throw new ModelFormatError(where, `unexpected end of file at byte ${position + done}`);
    done += n;
  }
}
