// Trains a byte-level BPE tokenizer (GPT-2 style) on a text file and writes a Hugging Face tokenizer.json.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bytesToUnicode } from '../../runtime/model/byte-level.js';

/** GPT-2's pre-tokenization pattern: what the ByteLevel pre-tokenizer with use_regex applies. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Special tokens take the first ids: 0 doubles as BOS/EOS of plain text, 1-2 frame chat turns. */
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

interface TrainedBpe {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/** Learns `vocabSize - specials - 256` merges over the word frequencies of `text`. */
export function trainBpe(text: string, vocabSize: number): TrainedBpe {
  const byteChars = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const match of text.matchAll(GPT2_SPLIT)) {
    const mapped = Array.from(encoder.encode(match[0]), (b) => byteChars[b]).join('');
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
  }
  const symbols: string[] = [...SPECIAL_TOKENS, ...byteChars];
  const symbolId = new Map(symbols.map((s, i) => [s, i]));
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push(Array.from(word, (ch) => symbolId.get(ch)!));
    freqs.push(count);
  }
  // Pair statistics, updated incrementally: key = left * 2^16 + right.
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: number): void => {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i] * 65536 + word[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freqs[w]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));
  const merges: [string, string][] = [];
  while (symbols.length < vocabSize) {
    let bestKey = -1;
    let bestCount = 0;
    for (const [key, count] of pairCount) {
      if (count > bestCount || (count === bestCount && key < bestKey)) {
        bestKey = key;
        bestCount = count;
      }
    }
    if (bestCount < 2) break;
    const left = Math.floor(bestKey / 65536);
    const right = bestKey % 65536;
    const merged = symbols.length;
    symbols.push(symbols[left] + symbols[right]);
    merges.push([symbols[left], symbols[right]]);
    for (const w of pairWords.get(bestKey) ?? []) {
      addPairs(w, -1);
      const word = words[w];
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(word[i]);
      }
      words[w] = next;
      addPairs(w, 1);
    }
    pairWords.delete(bestKey);
    pairCount.delete(bestKey);
  }
  return { vocab: new Map(symbols.map((s, i) => [s, i])), merges };
}

/** The Hugging Face tokenizer.json for a trained byte-level BPE. */
export function toTokenizerJson(bpe: TrainedBpe): object {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(bpe.vocab),
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      input: { type: 'string' },
      out: { type: 'string' },
      'vocab-size': { type: 'string', default: '4096' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.input || !values.out) {
    console.log('usage: node dist/models/train/train-tokenizer.js --input train.txt --out tokenizer.json [--vocab-size 4096]');
    process.exit(values.help ? 0 : 2);
  }
  const text = readFileSync(values.input, 'utf8').replace(/\f/g, '');
  const started = Date.now();
  const bpe = trainBpe(text, Number(values['vocab-size']));
  writeFileSync(values.out, JSON.stringify(toTokenizerJson(bpe), null, 1));
  console.log(`${bpe.vocab.size} tokens, ${bpe.merges.length} merges in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
