// Incremental detokenizers: release text as tokens arrive, never half a UTF-8 character.

export interface StreamDecoder {
  /** Adds one token; returns the text it completes (may be '' while a character is incomplete). */
  push(tokenId: number): string;
  /** Returns whatever is still held back (an incomplete character as U+FFFD) and resets. */
  flush(): string;
}

/**
 * Generic path for any decoder: decodes a short window of recent tokens and releases only the
 * text past what was already released, once it does not end in U+FFFD. Decoding a window
 * (rather than single tokens) keeps decoders that treat a leading space specially
 * (SentencePiece's Strip) right. Costs two small decodes per token.
 */
export function windowStreamDecoder(decode: (ids: number[]) => string, skip: (id: number) => boolean): StreamDecoder {
  let window: number[] = [];
  let prefixLen = 0; // tokens of `window` already released, kept as context
  return {
    push(tokenId) {
      if (skip(tokenId)) return '';
      window.push(tokenId);
      const prefixText = decode(window.slice(0, prefixLen));
      const fullText = decode(window);
      if (fullText.length <= prefixText.length || fullText.endsWith('\uFFFD')) return '';
      // A decoder could in principle rewrite the prefix; released text is never taken back.
      const released = fullText.slice(prefixText.length);
      window = window.slice(prefixLen);
      prefixLen = window.length;
      return released;
    },
    flush() {
      const prefixText = decode(window.slice(0, prefixLen));
      const fullText = decode(window);
      window = [];
      prefixLen = 0;
      return fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
    },
  };
}

/** What one token contributes to a byte-level decode. */
export type TokenPiece = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'text'; text: string } | { kind: 'skip' };

/**
 * Fast path for byte-level BPE (GPT-2 / Llama 3 / Qwen2 style): each ordinary token is a run of
 * bytes, fed to a streaming UTF-8 decoder that holds back an incomplete character by itself.
 * Added tokens are literal text; as in the full decode, bytes pending before one become U+FFFD.
 * Per the WHATWG encoding spec, streaming gives the same text as decoding all bytes at once.
 */
export function byteLevelStreamDecoder(piece: (id: number) => TokenPiece): StreamDecoder {
  let utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  return {
    push(tokenId) {
      const p = piece(tokenId);
      if (p.kind === 'skip') return '';
      if (p.kind === 'bytes') return utf8.decode(p.bytes, { stream: true });
      return utf8.decode() + p.text;
    },
    flush() {
      const rest = utf8.decode();
      utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
      return rest;
    },
  };
}
