// Message types of the /v1/ws protocol, shared by the server and the TypeScript client (types only).

/** Which OpenAI endpoint a WebSocket request stands for. */
export type WsEndpoint = 'chat' | 'completion';

export interface OpenAiErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** Client → server. `id` is chosen by the client and names the request in every event. */
export type WsClientMessage =
  | { type: 'response.create'; id: string; endpoint: WsEndpoint; request: Record<string, unknown> }
  | { type: 'response.cancel'; id: string };

export interface WsUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Chat-style logprob entry (the same shape as chat.completion's logprobs.content[i]). */
export interface WsLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** Server → client. Each request ends with exactly one `response.done` or one `error`. */
export type WsServerEvent =
  | { type: 'response.created'; id: string; response_id: string; model: string; created: number; num_choices: number }
  | { type: 'response.output_text.delta'; id: string; choice: number; delta: string; token_ids: number[]; logprobs: WsLogprob[] | null }
  | { type: 'response.output_text.done'; id: string; choice: number; text: string; finish_reason: 'stop' | 'length' }
  | {
      type: 'response.done';
      id: string;
      response_id: string;
      status: 'completed' | 'cancelled';
      choices: { index: number; finish_reason: 'stop' | 'length' | null }[];
      usage: WsUsage;
      /** Adaptive serving: the depth/precision the governor chose and why (docs/adaptive.md). */
      edgewise?: { depth: number; numLayers: number; precision: string; why: string };
    }
  | { type: 'error'; id: string | null; error: OpenAiErrorObject };
