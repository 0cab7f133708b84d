// Held-out text → token windows for calibration (each window is scored as its own sequence).

import type { Tokenizer } from '../model/tokenizer.js';

/**
 * Tokenizes `text` (no special tokens) and cuts it into `windowTokens`-long windows, at most
 * `maxTokens` tokens in all. A BOS id (when the tokenizer adds one) starts every window, as
 * at generation time.
 */
export function calibrationWindows(tokenizer: Tokenizer, text: string, windowTokens: number, maxTokens: number): number[][] {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  const bos = tokenizer.addBosToken && tokenizer.bosTokenId !== null ? [tokenizer.bosTokenId] : [];
  const body = windowTokens - bos.length;
  const windows: number[][] = [];
  for (let at = 0; at + body <= ids.length && (windows.length + 1) * windowTokens <= maxTokens; at += body) {
    windows.push([...bos, ...ids.slice(at, at + body)]);
  }
  return windows;
}
