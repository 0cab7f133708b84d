// Tests the Tokenizer on tiny byte-level and SentencePiece-style tokenizers and on the bundled model's.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ModelFormatError } from '../errors.js';
import { bytesToUnicode } from './byte-level.js';
import { windowStreamDecoder } from './stream-decoder.js';
import { Tokenizer } from './tokenizer.js';

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

function addedToken(id: number, content: string): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Byte-level BPE: the 256 byte tokens plus a few merges ("Ġt", "he", "é" as one token). */
function byteLevelJson(): object {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => (vocab[s] = i));
  b2u.forEach((c, i) => (vocab[c] = 3 + i));
  const merges = ['Ġ t', 'h e', 'Ġt he', 'Ã ©'];
  merges.forEach((m, i) => (vocab[m.replace(' ', '')] = 259 + i));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIALS.map((s, i) => addedToken(i, s)),
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

/** Llama-2-style SentencePiece BPE: "▁" for spaces, <0xXX> byte fallback, BOS added by the post-processor. */
function sentencePieceJson(): object {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const pieces = ['▁', 'h', 'e', 'l', 'o', 'w', 'r', 'd', '▁h', 'he', 'll', 'llo', '▁he', '▁hello', '▁w'];
  pieces.forEach((p, i) => (vocab[p] = 259 + i));
  const merges = ['▁ h', 'l l', 'll o', '▁h e', '▁he llo', '▁ w', 'h e'];
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['<unk>', '<s>', '</s>'].map((s, i) => addedToken(i, s)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
}

function byteLevel(config: object = {}, extraEos: number[] = []): Tokenizer {
  return new Tokenizer({ tokenizerJson: byteLevelJson(), tokenizerConfig: { bos_token: '<|endoftext|>', eos_token: '<|im_end|>', ...config }, extraEosTokenIds: extraEos, where: 'tiny' });
}

function streamAll(tok: Tokenizer, ids: number[], skipSpecialTokens?: boolean): string[] {
  const dec = tok.createStreamDecoder({ skipSpecialTokens });
  const parts = ids.map((id) => dec.push(id));
  parts.push(dec.flush());
  return parts;
}

test('byte-level: encode/decode round trip, merges used, special token ids', () => {
  const tok = byteLevel();
  const text = 'so the héllo 🙂 <|im_end|> ok';
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.ok(ids.includes(261), 'the "Ġthe" merge is used');
  assert.ok(ids.includes(262), 'é is one merged token');
  assert.ok(ids.includes(2), '<|im_end|> is recognised as a special token');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'so the héllo 🙂  ok');
  assert.equal(tok.vocabSize, 263);
  assert.equal(tok.bosTokenId, 0);
  assert.deepEqual(tok.eosTokenIds, [2]);
  assert.equal(tok.addBosToken, false);
  assert.equal(tok.tokenText(261), ' the');
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([99999]), '', 'ids past the tokenizer vocab decode to nothing');
});

test('stream decoder holds back a 4-byte character split over byte tokens and releases it whole', () => {
  const tok = byteLevel();
  const ids = tok.encode('a🙂b€');
  assert.equal(ids.length, 1 + 4 + 1 + 3, 'each byte of 🙂 and € is its own token');
  const parts = streamAll(tok, ids);
  assert.deepEqual(parts, ['a', '', '', '', '🙂', 'b', '', '', '€', '']);
  for (const p of parts) assert.ok(!p.includes('\uFFFD'), 'never half a character');
});

test('stream decoder: output equals decode() over random mixed text; flush releases a dangling byte', () => {
  const tok = byteLevel();
  const alphabet = ['a', ' the', 'é', '日本', '🙂', '\n', 'x', '€', ' ', 'ß'];
  let seed = 7;
  for (let round = 0; round < 20; round++) {
    let text = '';
    for (let i = 0; i < 12; i++) text += alphabet[(seed = (seed * 1103515245 + 12345) >>> 0) % alphabet.length];
    const ids = tok.encode(text);
    assert.equal(streamAll(tok, ids).join(''), text, JSON.stringify(text));
  }
  const lead = tok.encode('🙂').slice(0, 2); // two of four bytes
  const dec = tok.createStreamDecoder();
  assert.equal(dec.push(lead[0]) + dec.push(lead[1]), '');
  assert.equal(dec.flush(), '\uFFFD');
});

test('byte-level fast path and generic window path both equal decode() on random token ids', () => {
  const tok = byteLevel();
  let seed = 99;
  const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
  let sawReplacement = false;
  for (let round = 0; round < 50; round++) {
    // Arbitrary ids: invalid UTF-8 runs, lone continuation bytes, specials in the middle.
    const ids = Array.from({ length: 1 + (next() % 24) }, () => next() % tok.vocabSize);
    for (const skip of [true, false]) {
      const want = tok.decode(ids, { skipSpecialTokens: skip });
      sawReplacement ||= want.includes('\uFFFD');
      assert.equal(streamAll(tok, ids, skip).join(''), want, `fast path, ids ${ids}`);
      const win = windowStreamDecoder((x) => tok.decode(x, { cleanUpSpaces: false }), (id) => skip && tok.isSpecial(id));
      assert.equal(ids.map((id) => win.push(id)).join('') + win.flush(), want, `window path, ids ${ids}`);
    }
  }
  assert.ok(sawReplacement, 'random ids must have produced invalid UTF-8 somewhere');
});

test('stream decoder skips special tokens by default and can keep them', () => {
  const tok = byteLevel();
  const ids = [...tok.encode('hi'), 2];
  assert.equal(streamAll(tok, ids).join(''), 'hi');
  assert.equal(streamAll(tok, ids, false).join(''), 'hi<|im_end|>');
});

test('add_bos_token, generation-config eos ids and bad special tokens', () => {
  const tok = byteLevel({ add_bos_token: true }, [0, 2]);
  assert.equal(tok.addBosToken, true);
  assert.deepEqual(tok.encode('x'), [0, 3 + 'x'.charCodeAt(0)]);
  assert.deepEqual(tok.encode('x', { addSpecialTokens: false }), [3 + 'x'.charCodeAt(0)]);
  assert.deepEqual(tok.eosTokenIds.sort(), [0, 2]);
  const objectForm = byteLevel({ bos_token: { content: '<|im_start|>', lstrip: false }, eos_token: null });
  assert.equal(objectForm.bosTokenId, 1);
  assert.deepEqual(objectForm.eosTokenIds, []);
  const noConfig = new Tokenizer({ tokenizerJson: byteLevelJson(), tokenizerConfig: null, extraEosTokenIds: [2], fallbackBosTokenId: 0, where: 'x' });
  assert.deepEqual([noConfig.bosToken, noConfig.bosTokenId, noConfig.eosToken, noConfig.eosTokenIds], ['<|endoftext|>', 0, '<|im_end|>', [2]]);
  assert.equal(byteLevel({ bos_token: null }).bosTokenId, null, 'an explicit null is kept');
  assert.throws(() => byteLevel({ eos_token: '</s>' }), (e: unknown) => e instanceof ModelFormatError && /eos_token "<\/s>" is not in the vocabulary/.test(e.message));
  assert.throws(() => new Tokenizer({ tokenizerJson: { foo: 1 }, tokenizerConfig: null, where: 'x' }), /not a tokenizer\.json/);
});

test('SentencePiece style: BOS from the post-processor, leading-space handling, byte fallback in the stream', () => {
  const tok = new Tokenizer({ tokenizerJson: sentencePieceJson(), tokenizerConfig: { bos_token: '<s>', eos_token: '</s>', add_bos_token: true }, where: 'sp' });
  assert.equal(tok.addBosToken, true);
  const ids = tok.encode('hello world é');
  assert.equal(ids[0], 1);
  assert.equal(ids.filter((i) => i === 1).length, 1, 'BOS added once');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hello world é');
  const parts = streamAll(tok, ids);
  assert.equal(parts.join(''), 'hello world é');
  assert.equal(parts[1], 'hello', 'the first word loses the SentencePiece leading space');
  assert.ok(parts.includes(' w'), 'later words keep their space');
  const e = ids.slice(-2);
  assert.ok(e.every((i) => i >= 3 && i < 259), 'é falls back to two byte tokens');
  assert.deepEqual(parts.slice(-3), ['', 'é', '']);
});

const DEFAULT = fileURLToPath(new URL('../../../models/default/', import.meta.url));

test('bundled default model tokenizer: round trip and ChatML specials', { skip: !existsSync(join(DEFAULT, 'tokenizer.json')) }, () => {
  const tok = new Tokenizer({
    tokenizerJson: JSON.parse(readFileSync(join(DEFAULT, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(join(DEFAULT, 'tokenizer_config.json'), 'utf8')),
    where: DEFAULT,
  });
  const text = 'The quick brown fox, said Mr. Ågren — 42 times!';
  const ids = tok.encode(text);
  assert.ok(ids.length > 5 && ids.length < text.length);
  assert.equal(tok.decode(ids), text);
  assert.equal(streamAll(tok, ids).join(''), text);
  assert.deepEqual(tok.encode('<|im_start|>user', { addSpecialTokens: false }).slice(0, 1), [1]);
});
