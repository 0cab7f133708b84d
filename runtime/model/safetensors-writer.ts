// Writes a .safetensors file tensor by tensor (header first, then each tensor's bytes in order).

import { closeSync, openSync, writeSync } from 'node:fs';
import { InvalidRequestError } from '../errors.js';
import { DTYPE_BYTES, f32ToBf16, type WeightDtype } from './dtype.js';

export interface TensorToWrite {
  name: string;
  dtype: WeightDtype;
  shape: number[];
  /**
   * The tensor's data: raw little-endian bytes of `dtype`, or a Float32Array that is converted
   * (to bf16 with round-to-nearest-even when dtype is BF16; F16 needs raw bytes).
   * A function is called when the tensor is written, so that callers can produce one tensor at a time.
   */
  data: Uint8Array | Float32Array | (() => Uint8Array | Float32Array);
}

function toBytes(t: TensorToWrite, data: Uint8Array | Float32Array): Uint8Array {
  if (data instanceof Float32Array) {
    if (t.dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (t.dtype === 'BF16') return new Uint8Array(f32ToBf16(data).buffer);
    throw new InvalidRequestError(`tensor "${t.name}": pass F16 data as raw bytes`, t.name);
  }
  return data;
}

/**
 * Writes `tensors` in the given order; `metadata` goes into the header's `__metadata__`.
 * `headerText`, when given, is written verbatim instead (a source file's own header, so that the
 * copy is byte-identical); it must describe exactly these tensors at these offsets.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}, headerText?: string): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const lengths: number[] = [];
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new InvalidRequestError(`duplicate or reserved tensor name "${t.name}"`, t.name);
    const byteLength = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + byteLength] };
    lengths.push(byteLength);
    offset += byteLength;
  }
  let json: Buffer;
  if (headerText !== undefined) {
    checkHeaderText(headerText, header);
    json = Buffer.from(headerText, 'utf8');
  } else {
    // The format pads the JSON header with spaces to a multiple of 8 bytes so that data is aligned.
    json = Buffer.from(JSON.stringify(header), 'utf8');
    const padded = Math.ceil(json.length / 8) * 8;
    json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  }
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(json.length));

  const fd = openSync(path, 'w');
  try {
    writeAll(fd, lenBytes);
    writeAll(fd, json);
    tensors.forEach((t, i) => {
      const bytes = toBytes(t, typeof t.data === 'function' ? t.data() : t.data);
      if (bytes.byteLength !== lengths[i]) {
        throw new InvalidRequestError(`tensor "${t.name}": ${bytes.byteLength} bytes given, shape × dtype needs ${lengths[i]}`, t.name);
      }
      writeAll(fd, bytes);
    });
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `text` lists the same tensors, dtypes, shapes and data offsets as `header` (its `__metadata__` may differ). */
function checkHeaderText(text: string, header: Record<string, unknown>): void {
  let given: unknown;
  try {
    given = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('the header to copy is not valid JSON', 'headerText');
  }
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new InvalidRequestError('the header to copy is not a JSON object', 'headerText');
  // Key order inside the header and inside each entry is the source's own: compare the fields.
  const strip = (h: object): string =>
    JSON.stringify(
      Object.entries(h)
        .filter(([k]) => k !== '__metadata__')
        .map(([k, v]) => [k, (v as Record<string, unknown>)?.dtype, (v as Record<string, unknown>)?.shape, (v as Record<string, unknown>)?.data_offsets])
        .sort(([x], [y]) => (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0)),
    );
  if (strip(given) !== strip(header)) throw new InvalidRequestError('the header to copy does not describe the tensors written', 'headerText');
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
}
