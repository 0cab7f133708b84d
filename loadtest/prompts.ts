// Builds the run's prompts: random English words sized to a normal distribution of token counts.

import { Prng } from '../runtime/generation/prng.js';

// Common English words: the default model's byte-level BPE was trained on English text, so they
// tokenize to about one token each, and a prompt of them looks like the traffic it will serve.
const WORDS = (
  'the of and to a in that is was he for it with as his on be at by i this had not are but from or ' +
  'have an they which one you were her all she there would their we him been has when who will more no ' +
  'if out so said what up its about into than them can only other new some could time these two may then ' +
  'do first any my now such like our over man me even most made after also did many before must through ' +
  'back years where much your way well down should because each just those people how too little state good ' +
  'very make world still own see men work long get here between both life being under never day same another ' +
  'know while last might us great old year off come since against go came right used take three house small ' +
  'place found part every again city general high water night hand school mind power find point light home'
).split(' ');

/** Standard normal draw (Box-Muller). */
export function normalDraw(rng: Prng): number {
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** `count` words drawn from the word list. */
export function randomWords(rng: Prng, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[rng.nextUint32() % WORDS.length]);
  return out.join(' ');
}

/**
 * Prompt texts whose token counts follow Normal(mean, stddev) (at least 1 token), given the
 * measured `tokensPerWord` of this server's tokenizer. Same seed → same prompts.
 */
export function buildPrompts(options: { count: number; meanTokens: number; stddevTokens: number; tokensPerWord: number; seed: number }): string[] {
  const rng = new Prng(options.seed);
  const prompts: string[] = [];
  for (let i = 0; i < options.count; i++) {
    const tokens = Math.max(1, Math.round(options.meanTokens + options.stddevTokens * normalDraw(rng)));
    prompts.push(randomWords(rng, Math.max(1, Math.round(tokens / options.tokensPerWord))));
  }
  return prompts;
}

/** A text to measure the server's tokens-per-word ratio on (POST /tokenize). */
export function calibrationText(seed: number, words = 400): string {
  return randomWords(new Prng(seed ^ 0x5bd1e995), words);
}
