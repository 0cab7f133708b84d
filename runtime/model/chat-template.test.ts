// Tests chat-template rendering with published templates (ChatML, Llama 3, Zephyr, Mistral) and the error paths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidRequestError, ModelFormatError } from '../errors.js';
import { ChatTemplate, chatTemplateSource, requireChatTemplate } from './chat-template.js';

const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const ZEPHYR =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const MISTRAL =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const conversation = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi there' },
];

test('ChatML with and without the generation prompt', () => {
  const t = new ChatTemplate(CHATML, { bosToken: '<|endoftext|>', eosToken: '<|im_end|>' }, 'tokenizer_config.json');
  assert.equal(t.render(conversation, { addGenerationPrompt: true }), '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(t.render(conversation.slice(1), { addGenerationPrompt: false }), '<|im_start|>user\nHi there<|im_end|>\n');
});

test('Llama 3 template puts bos_token first and trims content', () => {
  const t = new ChatTemplate(LLAMA3, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' }, 'c');
  assert.equal(
    t.render([{ role: 'user', content: '  Hello  ' }], { addGenerationPrompt: true }),
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
});

test('Zephyr (TinyLlama chat) template uses eos_token and trims block newlines', () => {
  const t = new ChatTemplate(ZEPHYR, { bosToken: '<s>', eosToken: '</s>' }, 'c');
  assert.equal(t.render(conversation, { addGenerationPrompt: true }), '<|system|>\nBe brief.</s>\n<|user|>\nHi there</s>\n<|assistant|>\n');
});

test('a template that raises (Mistral role alternation) is an InvalidRequestError on messages', () => {
  const t = new ChatTemplate(MISTRAL, { bosToken: '<s>', eosToken: '</s>' }, 'c');
  assert.equal(
    t.render([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }], { addGenerationPrompt: true }),
    '<s>[INST] a [/INST]b</s>[INST] c [/INST]',
  );
  assert.throws(
    () => t.render([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], { addGenerationPrompt: true }),
    (e: unknown) => e instanceof InvalidRequestError && e.param === 'messages' && /roles must alternate/.test(e.message),
  );
});

test('template sources: string, named list, chat_template.jinja fallback, none', () => {
  assert.equal(chatTemplateSource({ chat_template: 'A' }, 'J', 'c'), 'A');
  assert.equal(chatTemplateSource({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] }, null, 'c'), 'D');
  assert.equal(chatTemplateSource({}, 'J', 'c'), 'J');
  assert.equal(chatTemplateSource(null, null, 'c'), null);
  assert.throws(() => chatTemplateSource({ chat_template: 5 }, null, 'c'), ModelFormatError);
});

test('a broken template is a ModelFormatError; no template is a clear InvalidRequestError', () => {
  assert.throws(() => new ChatTemplate('{% for m in messages %}', { bosToken: null, eosToken: null }, 'x/tokenizer_config.json'), (e: unknown) => e instanceof ModelFormatError && e.message.startsWith('x/tokenizer_config.json: chat_template does not parse'));
  assert.throws(() => requireChatTemplate(null), (e: unknown) => e instanceof InvalidRequestError && /no chat template/.test(e.message));
  const t = new ChatTemplate(CHATML, { bosToken: null, eosToken: null }, 'c');
  assert.equal(requireChatTemplate(t), t);
});
