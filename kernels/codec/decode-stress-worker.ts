// Test helper run in a worker thread: decodes one encoded tensor many times with pool threads and reports mismatches.

import { parentPort, workerData } from 'node:worker_threads';
import { nativeDecode } from './native.js';
import type { EncodedTensor } from './huff8-types.js';

const { enc, lengths, expected, rounds } = workerData as { enc: EncodedTensor; lengths: Uint8Array; expected: Uint16Array; rounds: number };
let mismatches = 0;
const out = new Uint16Array(expected.length);
for (let r = 0; r < rounds; r++) {
  out.fill(0);
  nativeDecode(enc, lengths, out, { dtype: 'BF16', threads: 1 + (r % 3) });
  if (!Buffer.from(out.buffer).equals(Buffer.from(expected.buffer))) mismatches++;
}
parentPort!.postMessage({ mismatches });
