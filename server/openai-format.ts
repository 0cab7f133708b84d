// Builds OpenAI-shaped response bodies and stream chunks for chat and legacy completions.

import type { TokenLogprob } from '../runtime/worker/engine-api.js';
import type { ApiFinishReason, Usage } from './generation-session.js';
import type { EndpointKind } from './request-mapper.js';

export interface ChatLogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

const utf8 = new TextEncoder();

function bytesOf(token: string): number[] {
  return Array.from(utf8.encode(token));
}

export function chatLogprobs(logprobs: TokenLogprob[]): ChatLogprobEntry[] {
  return logprobs.map((lp) => ({
    token: lp.token,
    logprob: lp.logprob,
    bytes: bytesOf(lp.token),
    top_logprobs: lp.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytesOf(t.token) })),
  }));
}

/** Legacy completions shape; `startOffset` is the text offset of the first token in the choice's text. */
export function completionLogprobs(logprobs: TokenLogprob[], startOffset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = startOffset;
  for (const lp of logprobs) {
    out.tokens.push(lp.token);
    out.token_logprobs.push(lp.logprob);
    const top: Record<string, number> = {};
    for (const t of lp.top) if (!(t.token in top)) top[t.token] = t.logprob;
    out.top_logprobs.push(top);
    out.text_offset.push(offset);
    offset += lp.token.length;
  }
  return out;
}

/** Collects one choice's text and logprobs for a non-streaming response. */
export class ChoiceAccumulator {
  text = '';
  logprobs: TokenLogprob[] = [];
  finishReason: ApiFinishReason | null = null;

  add(text: string, logprobs: TokenLogprob[] | null): void {
    this.text += text;
    if (logprobs) this.logprobs.push(...logprobs);
  }
}

interface Header {
  id: string;
  created: number;
  model: string;
}

export function fullResponse(kind: EndpointKind, head: Header, choices: ChoiceAccumulator[], wantLogprobs: boolean, usage: Usage): object {
  if (kind === 'chat') {
    return {
      id: head.id,
      object: 'chat.completion',
      created: head.created,
      model: head.model,
      choices: choices.map((c, index) => ({
        index,
        message: { role: 'assistant', content: c.text },
        logprobs: wantLogprobs ? { content: chatLogprobs(c.logprobs) } : null,
        finish_reason: c.finishReason,
      })),
      usage,
    };
  }
  return {
    id: head.id,
    object: 'text_completion',
    created: head.created,
    model: head.model,
    choices: choices.map((c, index) => ({
      index,
      text: c.text,
      logprobs: wantLogprobs ? completionLogprobs(c.logprobs, 0) : null,
      finish_reason: c.finishReason,
    })),
    usage,
  };
}

/** Streams chunks with the invariants clients rely on: one id, role only in a choice's first chunk. */
export class ChunkBuilder {
  private readonly kind: EndpointKind;
  private readonly head: Header;
  private readonly includeUsage: boolean;
  private readonly wantLogprobs: boolean;
  private readonly roleSent: boolean[];
  private readonly textOffsets: number[];

  constructor(kind: EndpointKind, head: Header, numChoices: number, includeUsage: boolean, wantLogprobs: boolean) {
    this.kind = kind;
    this.head = head;
    this.includeUsage = includeUsage;
    this.wantLogprobs = wantLogprobs;
    this.roleSent = new Array<boolean>(numChoices).fill(false);
    this.textOffsets = new Array<number>(numChoices).fill(0);
  }

  private wrap(choices: object[], usage: Usage | null): object {
    const chunk: Record<string, unknown> = {
      id: this.head.id,
      object: this.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: this.head.created,
      model: this.head.model,
      choices,
    };
    // OpenAI sends `usage: null` on every chunk but the last when include_usage is set.
    if (this.includeUsage) chunk.usage = usage;
    return chunk;
  }

  /** The chat role announcement, sent for each choice before its first content. */
  roleChunks(): object[] {
    if (this.kind !== 'chat') return [];
    const chunks: object[] = [];
    this.roleSent.forEach((sent, index) => {
      if (sent) return;
      this.roleSent[index] = true;
      chunks.push(this.wrap([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], null));
    });
    return chunks;
  }

  delta(index: number, text: string, logprobs: TokenLogprob[] | null): object {
    const lp = this.wantLogprobs && logprobs && logprobs.length > 0 ? logprobs : null;
    if (this.kind === 'chat') {
      return this.wrap([{ index, delta: { content: text }, logprobs: lp ? { content: chatLogprobs(lp) } : null, finish_reason: null }], null);
    }
    const choice = { index, text, logprobs: lp ? completionLogprobs(lp, this.textOffsets[index]) : null, finish_reason: null };
    this.textOffsets[index] += text.length;
    return this.wrap([choice], null);
  }

  finish(index: number, reason: ApiFinishReason): object {
    if (this.kind === 'chat') return this.wrap([{ index, delta: {}, logprobs: null, finish_reason: reason }], null);
    return this.wrap([{ index, text: '', logprobs: null, finish_reason: reason }], null);
  }

  /** The include_usage chunk: no choices, exact usage. Null when the client did not ask for it. */
  usage(usage: Usage): object | null {
    return this.includeUsage ? this.wrap([], usage) : null;
  }
}
