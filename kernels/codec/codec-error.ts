// The error the codec kernels throw on malformed input; the container layer names the segment.

/** A code table, bitstream, chunk index or buffer is malformed. Never a programming error. */
export class CodecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodecError';
  }
}
