// Renders chat messages into a prompt string with the model's Jinja chat template (@huggingface/jinja).

import { Template } from '@huggingface/jinja';
import { InvalidRequestError, ModelFormatError } from '../errors.js';
import { isObject } from './json-fields.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;
  private readonly bosToken: string;
  private readonly eosToken: string;

  /** `where` names the file the template came from, for parse errors. */
  constructor(source: string, specials: { bosToken: string | null; eosToken: string | null }, where: string) {
    this.source = source;
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ModelFormatError(where, `chat_template does not parse: ${(err as Error).message}`, { cause: err });
    }
    this.bosToken = specials.bosToken ?? '';
    this.eosToken = specials.eosToken ?? '';
  }

  render(messages: ChatMessage[], opts: { addGenerationPrompt: boolean }): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt,
        bos_token: this.bosToken,
        eos_token: this.eosToken,
      });
    } catch (err) {
      // Templates reject some conversations on purpose (raise_exception), e.g. roles that do not alternate.
      throw new InvalidRequestError(`the model's chat template rejected the messages: ${(err as Error).message}`, 'messages');
    }
  }
}

/**
 * The template source from tokenizer_config.json's `chat_template` (a string, or a list of
 * {name, template} where "default" is used), else from a chat_template.jinja file's text.
 */
export function chatTemplateSource(tokenizerConfig: unknown, jinjaFileText: string | null, where: string): string | null {
  const value = isObject(tokenizerConfig) ? tokenizerConfig.chat_template : undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((v) => isObject(v) && v.name === 'default') ?? value[0];
    if (!isObject(named) || typeof named.template !== 'string') {
      throw new ModelFormatError(where, 'chat_template list entries must be {name, template} objects');
    }
    return named.template;
  }
  if (value !== undefined && value !== null) throw new ModelFormatError(where, 'chat_template must be a string or a list');
  return jinjaFileText;
}

/** Asking for chat on a model without a template is the caller's mistake, not the model's. */
export function requireChatTemplate(template: ChatTemplate | null): ChatTemplate {
  if (template === null) {
    throw new InvalidRequestError('this model has no chat template; send a plain text prompt (completions) instead of chat messages', 'messages');
  }
  return template;
}
