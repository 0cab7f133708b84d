// Tokenizes the prepared corpus into uint16 token streams for training, mixing in chat-formatted samples.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { seededRandom } from '../../kernels/codec/synthetic.js';

/** Share of training documents rendered as chat turns, so the model learns ChatML framing and <|im_end|>. */
const CHAT_SHARE = 0.15;

/** A paragraph as one user turn (its first sentence) and the assistant's continuation (the rest). */
function paragraphAsChat(paragraph: string): string | null {
  const split = paragraph.search(/[.?!]"? /);
  if (split < 0) return null;
  const user = paragraph.slice(0, split + 1).replace(/ $/, '');
  const assistant = paragraph.slice(split + 1).trim();
  if (assistant.length === 0) return null;
  return `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n${assistant}<|im_end|>\n`;
}

function encodeDocuments(tokenizer: Tokenizer, documents: string[], chatShare: number, seed: number): Uint16Array {
  const random = seededRandom(seed); // mulberry32
  const ids: number[] = [];
  for (const document of documents) {
    ids.push(0); // <|endoftext|> separates documents
    if (random() < chatShare) {
      for (const paragraph of document.split('\n')) {
        const chat = paragraphAsChat(paragraph.trim());
        if (chat) ids.push(...tokenizer.encode(chat).ids);
      }
    } else {
      ids.push(...tokenizer.encode(document.trim()).ids);
    }
  }
  return Uint16Array.from(ids);
}

function main(): void {
  const { values } = parseArgs({
    options: { work: { type: 'string' }, seed: { type: 'string', default: '1234' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.work) {
    console.log('usage: node dist/models/train/encode-corpus.js --work <dir with train.txt, heldout.txt, tokenizer.json>');
    process.exit(values.help ? 0 : 2);
  }
  const work = values.work;
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(work, 'tokenizer.json'), 'utf8')), {});
  const seed = Number(values.seed);
  for (const [split, chatShare] of [['train', CHAT_SHARE], ['heldout', 0]] as const) {
    const documents = readFileSync(join(work, `${split}.txt`), 'utf8').split('\n\f\n');
    const ids = encodeDocuments(tokenizer, documents, chatShare, seed);
    writeFileSync(join(work, `${split}.bin`), ids);
    console.log(`${split}: ${documents.length} documents, ${ids.length} tokens`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
