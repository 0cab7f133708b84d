// The slice of the engine the server depends on: a structural view of runtime/worker's EngineClient.

import type { ModelConfig } from '../runtime/model/model-config.js';
import type { GenerationEvent, GenerationRequest } from '../runtime/worker/engine-api.js';

/** What the server needs from a tokenizer (runtime/model/tokenizer.ts's Tokenizer satisfies it). */
export interface ServingTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  tokenText(id: number): string;
}

/** What the server needs from a chat template (runtime/model/chat-template.ts's ChatTemplate satisfies it). */
export interface ServingChatTemplate {
  render(messages: { role: string; content: string }[], options: { addGenerationPrompt: boolean }): string;
}

/**
 * NOTE: typed structurally rather than importing EngineClient so the server (and its tests, which
 * use a scripted fake) compile against the agreed API whatever the worker's internals look like.
 */
export interface ServingEngine {
  readonly modelId: string;
  readonly config: ModelConfig;
  readonly tokenizer: ServingTokenizer | null;
  readonly chatTemplate: ServingChatTemplate | null;
  /** Largest prompt + completion length in tokens. */
  readonly maxContext: number;
  /** Throws EdgewiseError kind 'queue_full' when the queue is full. */
  submit(req: GenerationRequest, onEvent: (event: GenerationEvent) => void): void;
  cancel(reqId: string): void;
  stats(): { running: number; waiting: number };
  drain(): Promise<void>;
  close(): Promise<void>;
  /** Adaptive serving (EngineClient): state, or set the budget first; resolves null when it is off. */
  adaptiveState?(budget?: { bytes: number | null }): Promise<object | null>;
}
