// Text ↔ token ids over tokenizer.json (@huggingface/tokenizers) plus tokenizer_config.json special tokens.

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelFormatError } from '../errors.js';
import { isObject, type JsonObject } from './json-fields.js';

export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: unknown;
  /** Parsed tokenizer_config.json, or null when the folder has none. */
  tokenizerConfig: unknown;
  /** EOS ids from generation_config.json / config.json, merged into `eosTokenIds`. */
  extraEosTokenIds?: number[];
  /** Names the source in error messages (a folder or container path). */
  where: string;
}

export interface StreamDecoder {
  /** Adds one token; returns the text it completes (may be '' while a character is incomplete). */
  push(tokenId: number): string;
  /** Returns whatever is still held back (even an incomplete character, as U+FFFD) and resets. */
  flush(): string;
}

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
    this.specialIds = new Set([...this.hf.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
    // NOTE: the library defaults clean-up to true; transformers' current default is false.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    this.bosToken = specialTokenContent(config.bos_token);
    this.eosToken = specialTokenContent(config.eos_token);
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
    return this.decode([id], { cleanUpSpaces: false });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Incremental detokenizer. Decodes a short window of recent tokens and releases only the text
   * past what was already released, and only once it does not end in U+FFFD, so that a UTF-8
   * character split over several byte-level tokens is released whole. Decoding a window (rather
   * than single tokens) keeps decoders that treat a leading space specially (SentencePiece) right.
   */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const skipSpecial = opts.skipSpecialTokens ?? true;
    let window: number[] = [];
    let prefixLen = 0; // tokens of `window` already released, kept as context
    const text = (ids: number[]): string => this.decode(ids, { cleanUpSpaces: false });
    return {
      push: (tokenId: number): string => {
        if (skipSpecial && this.specialIds.has(tokenId)) return '';
        window.push(tokenId);
        const prefixText = text(window.slice(0, prefixLen));
        const fullText = text(window);
        if (fullText.length <= prefixText.length || fullText.endsWith('\uFFFD')) return '';
        // A decoder could in principle rewrite the prefix; we never take back released text.
        const released = fullText.slice(prefixText.length);
        // Keep the newly released tokens as the next window's context.
        window = window.slice(prefixLen);
        prefixLen = window.length;
        return released;
      },
      flush: (): string => {
        const prefixText = text(window.slice(0, prefixLen));
        const fullText = text(window);
        window = [];
        prefixLen = 0;
        return fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
      },
    };
  }
}
