// `edgewise tokenize`: text → token ids (optionally through the chat template), or ids → text, for debugging.

import { loadTokenizerAndTemplate } from '../../runtime/model/load-model.js';
import { requireChatTemplate } from '../../runtime/model/chat-template.js';
import { InvalidRequestError } from '../../runtime/errors.js';
import { parseCommandArgs, parseIdList, UsageError, type CliCommand } from '../cli-util.js';

export const command: CliCommand = {
  name: 'tokenize',
  summary: "show a model's token ids for a text (or the text of token ids)",
  usage: `Usage: edgewise tokenize --model <path> [--chat] [--no-special] [--tokens] <text>
       edgewise tokenize --model <path> --decode <id,id,...>

  --model <path>   a Hugging Face model folder or .ewm container
  --chat           wrap <text> as one user message through the chat template (with the generation prompt)
  --no-special     do not add special tokens (BOS) when encoding
  --tokens         print each id with its text, one per line
  --decode <ids>   print the text of comma-separated token ids instead`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        chat: { type: 'boolean' },
        'no-special': { type: 'boolean' },
        tokens: { type: 'boolean' },
        decode: { type: 'string' },
      },
      { min: 0, max: 1, names: '<text>' },
    );
    if (values.model === undefined) throw new UsageError('--model is required', '--model');
    const { tokenizer, chatTemplate } = await loadTokenizerAndTemplate(values.model);
    if (tokenizer === null) throw new InvalidRequestError(`${values.model} has no tokenizer.json`);
    if (values.decode !== undefined) {
      if (positionals.length > 0) throw new UsageError('give either <text> or --decode, not both');
      process.stdout.write(`${tokenizer.decode(parseIdList(values.decode, '--decode'))}\n`);
      return 0;
    }
    if (positionals.length === 0) throw new UsageError('missing argument <text>');
    let text = positionals[0];
    // Templates already spell out BOS where the model wants it, so templated text adds no specials.
    let addSpecialTokens = values['no-special'] !== true;
    if (values.chat) {
      text = requireChatTemplate(chatTemplate).render([{ role: 'user', content: text }], { addGenerationPrompt: true });
      addSpecialTokens = false;
    }
    const ids = tokenizer.encode(text, { addSpecialTokens });
    if (values.tokens) {
      for (const id of ids) process.stdout.write(`${id}\t${JSON.stringify(tokenizer.tokenText(id))}\n`);
    } else {
      process.stdout.write(`${ids.join(',')}\n`);
    }
    return 0;
  },
};
