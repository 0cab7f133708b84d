// The lossless store in the version-1 layout (index, stream, interleaved sign+mantissa bytes), for the webgpu backend.

import { SegmentLayout, type EwmMetadata, type SegmentEntry, type TensorEntry } from './ewm-format.js';
import { EwmFile } from './ewm-reader.js';

/** Interleaved raw bytes (sign + 7 mantissa bits) rejoined from all three planes. */
function joinRaw(planes: Uint8Array[], n: number): Uint8Array {
  const [a, b, c] = planes;
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    raw[i] = (((a[i >>> 2] >>> (2 * (i & 3))) & 3) << 6) | (((b[i >>> 2] >>> (2 * (i & 3))) & 3) << 4) | ((c[i >>> 1] >>> (4 * (i & 1))) & 15);
  }
  return raw;
}

/**
 * NOTE: the webgpu backend no longer reads this view: its WGSL decoders read the container's
 * bit-planes directly and serve every rung (docs/webgpu.md, "Precision rungs on the GPU"). The
 * view (every segment rebuilt once in the version-1 layout, same codebooks and streams, tensor
 * entries pointing into it) remains for `EwmWeightProvider.container` and any version-1-layout
 * reader. It owns no file descriptor.
 */
export function losslessV1View(file: EwmFile, segments: readonly Uint8Array[]): { file: EwmFile; segments: Uint8Array[] } {
  const tensors: TensorEntry[] = [];
  const outSegments: Uint8Array[] = [];
  const segEntries: SegmentEntry[] = file.metadata.segments.map((seg, i) => {
    const own = file.metadata.tensors.filter((t) => t.segment === i);
    const src = segments[i];
    const layout = new SegmentLayout();
    const place = (data: Uint8Array): number => layout.place(data);
    for (const t of own) {
      if (t.codec === 'raw') {
        tensors.push({ ...t, dataOffset: place(src.subarray(t.dataOffset!, t.dataOffset! + t.byteLength!)) });
        continue;
      }
      const view = file.planedView(t, src);
      const entry: TensorEntry = { ...t, planeOffsets: undefined };
      entry.indexOffset = place(new Uint8Array(view.index.buffer, view.index.byteOffset, view.index.byteLength));
      entry.wordsOffset = place(new Uint8Array(view.words.buffer, view.words.byteOffset, view.words.byteLength));
      entry.rawOffset = place(joinRaw(view.planes, t.numElements!));
      tensors.push(entry);
    }
    layout.padTo(64);
    const bytes = layout.bytes();
    outSegments.push(bytes);
    return { ...seg, length: bytes.length, parts: [{ length: bytes.length, crc32c: 0 }] };
  });
  const order = new Map(file.metadata.tensors.map((t, i) => [t.name, i]));
  tensors.sort((x, y) => order.get(x.name)! - order.get(y.name)!);
  const metadata: EwmMetadata = { ...file.metadata, segments: segEntries, tensors };
  return { file: EwmFile.detached(file.path, file.header, metadata), segments: outSegments };
}
