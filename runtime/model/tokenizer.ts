// Text ↔ token ids over tokenizer.json (@huggingface/tokenizers) plus tokenizer_config.json special tokens.

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelFormatError } from '../errors.js';
import { isObject, type JsonObject } from './json-fields.js';
import { unicodeToBytes } from './byte-level.js';
import { byteLevelStreamDecoder, windowStreamDecoder, type StreamDecoder, type TokenPiece } from './stream-decoder.js';

export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: unknown;
  /** Parsed tokenizer_config.json, or null when the folder has none. */
  tokenizerConfig: unknown;
  /** EOS ids from generation_config.json / config.json, merged into `eosTokenIds`. */
  extraEosTokenIds?: number[];
  /** config.json's bos_token_id, used when tokenizer_config.json has no bos_token key at all. */
  fallbackBosTokenId?: number | null;
  /** Names the source in error messages (a folder or container path). */
  where: string;
}

export type { StreamDecoder } from './stream-decoder.js';

/** tokenizer_config.json writes special tokens as a string or as an AddedToken object. */
function specialTokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return null;
}

export class Tokenizer {
  /** One past the largest id the tokenizer knows (the model's vocab may be larger). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** Whether `encode(text)` (with special tokens) starts with BOS. */
  readonly addBosToken: boolean;
  /** Text of the BOS / EOS tokens, for chat templates. */
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  private readonly hf: HfTokenizer;
  private readonly specialIds: Set<number>;
  private readonly cleanUpSpaces: boolean;
  /** add_bos_token from tokenizer_config.json, for tokenizers whose post-processor does not add it. */
  private readonly wantBos: boolean;
  /** The decoder is plain ByteLevel, so tokens map to bytes one to one (stream fast path). */
  private readonly byteLevel: boolean;
  private readonly addedText: Map<number, string>;
  private readonly pieces = new Map<number, TokenPiece>();
  private readonly tokenTexts = new Map<number, string>();

  constructor(files: TokenizerFiles) {
    const where = `${files.where} tokenizer.json`;
    const config: JsonObject = isObject(files.tokenizerConfig) ? files.tokenizerConfig : {};
    if (!isObject(files.tokenizerJson) || !isObject(files.tokenizerJson.model)) {
      throw new ModelFormatError(where, 'not a tokenizer.json (no "model" object)');
    }
    try {
      this.hf = new HfTokenizer(files.tokenizerJson, config);
    } catch (err) {
      throw new ModelFormatError(where, `cannot build the tokenizer: ${(err as Error).message}`, { cause: err });
    }
    let maxId = -1;
    for (const id of this.hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const added = [...this.hf.get_added_tokens_decoder()];
    this.addedText = new Map(added.map(([id, t]) => [id, t.content]));
    // The library skips added tokens flagged special and any listed in additional_special_tokens.
    const extraSpecial = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens : [];
    this.specialIds = new Set([
      ...added.filter(([, t]) => t.special).map(([id]) => id),
      ...extraSpecial.map((c) => (typeof c === 'string' ? this.hf.token_to_id(c) : undefined)).filter((id): id is number => id !== undefined),
    ]);
    const decoder = (files.tokenizerJson as JsonObject).decoder;
    const suffix = (files.tokenizerJson.model as JsonObject).end_of_word_suffix;
    this.byteLevel = isObject(decoder) && decoder.type === 'ByteLevel' && !suffix;
    // NOTE: the library defaults clean-up to true; transformers' current default is false.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    // Without tokenizer_config.json entries, name the tokens config.json points at (for chat templates).
    const tokenAt = (id: number | null | undefined): string | null => (id === null || id === undefined ? null : (this.hf.id_to_token(id) ?? null));
    this.bosToken = 'bos_token' in config ? specialTokenContent(config.bos_token) : tokenAt(files.fallbackBosTokenId);
    this.eosToken = 'eos_token' in config ? specialTokenContent(config.eos_token) : tokenAt(files.extraEosTokenIds?.[0]);
    this.bosTokenId = this.lookup(this.bosToken, 'bos_token', files.where);
    const eos = this.lookup(this.eosToken, 'eos_token', files.where);
    this.eosTokenIds = [...new Set([...(eos === null ? [] : [eos]), ...(files.extraEosTokenIds ?? [])])];

    this.wantBos = config.add_bos_token === true && this.bosTokenId !== null;
    const probe = this.encode('a');
    this.addBosToken = this.bosTokenId !== null && probe[0] === this.bosTokenId;
  }

  private lookup(content: string | null, field: string, where: string): number | null {
    if (content === null) return null;
    const id = this.hf.token_to_id(content);
    if (id === undefined) throw new ModelFormatError(`${where} tokenizer_config.json`, `${field} "${content}" is not in the vocabulary`);
    return id;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const addSpecial = opts.addSpecialTokens ?? true;
    const ids = this.hf.encode(text, { add_special_tokens: addSpecial }).ids;
    if (addSpecial && this.wantBos && ids[0] !== this.bosTokenId) ids.unshift(this.bosTokenId!);
    return ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean } = {}): string {
    // Ids the tokenizer does not know (a model vocab padded past the tokenizer's) decode to nothing.
    const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.hf.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    return this.hf.decode(known, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: opts.cleanUpSpaces ?? this.cleanUpSpaces,
    });
  }

  /** The text of one token on its own (U+FFFD for a byte that is part of a longer character). */
  tokenText(id: number): string {
    // Memoized: logprobs ask for the text of up to 20 alternatives per generated token.
    let text = this.tokenTexts.get(id);
    if (text === undefined) {
      text = this.decode([id], { cleanUpSpaces: false });
      this.tokenTexts.set(id, text);
    }
    return text;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Incremental detokenizer (skips special tokens unless told otherwise). Byte-level BPE
   * tokenizers take a fast path through a streaming UTF-8 decoder; others decode a short window.
   */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const skipSpecial = opts.skipSpecialTokens ?? true;
    if (this.byteLevel) return byteLevelStreamDecoder((id) => (skipSpecial && this.specialIds.has(id) ? SKIP : this.piece(id)));
    return windowStreamDecoder(
      (ids) => this.decode(ids, { cleanUpSpaces: false }),
      (id) => skipSpecial && this.specialIds.has(id),
    );
  }

  /** A byte-level token's bytes, or an added token's literal text; built on first use. */
  private piece(id: number): TokenPiece {
    let p = this.pieces.get(id);
    if (p !== undefined) return p;
    const added = this.addedText.get(id);
    const token = this.hf.id_to_token(id);
    if (added !== undefined) p = { kind: 'text', text: added };
    else if (token === undefined || id >= this.vocabSize) p = SKIP;
    else {
      const alphabet = unicodeToBytes();
      // NOTE: like the library's decoder, a character outside the alphabet becomes byte 0.
      p = { kind: 'bytes', bytes: Uint8Array.from([...token], (c) => alphabet.get(c) ?? 0) };
    }
    this.pieces.set(id, p);
    return p;
  }
}

const SKIP: TokenPiece = { kind: 'skip' };
