// `edgewise generate`: one prompt through the engine worker, streaming the completion to stdout.

import { randomUUID } from 'node:crypto';
import { DEFAULT_SAMPLING, type SamplingParams } from '../../runtime/generation/sampling-params.js';
import { EdgewiseError } from '../../runtime/errors.js';
import { resolveBackend, type BackendChoice } from '../../runtime/engine/webgpu-backend.js';
import { startEngine, type EngineClient } from '../../runtime/worker/engine-client.js';
import type { GenerationEvent } from '../../runtime/worker/engine-api.js';
import { parseCommandArgs, parseFloatOption, parseIdList, parseIntOption, UsageError, type CliCommand } from '../cli-util.js';

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-ids': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  chat: { type: 'boolean' },
  system: { type: 'string' },
  'print-ids': { type: 'boolean' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** The prompt as token ids: given ids verbatim, the chat template, or plain text (BOS when the tokenizer adds it). */
function promptIds(engine: EngineClient, v: { prompt?: string; 'prompt-ids'?: string; chat?: boolean; system?: string }): number[] {
  if (v['prompt-ids'] !== undefined) return parseIdList(v['prompt-ids'], '--prompt-ids');
  const tokenizer = engine.tokenizer;
  if (!tokenizer) throw new UsageError('this model has no tokenizer.json; pass --prompt-ids instead of --prompt', '--prompt');
  const text = v.prompt ?? '';
  if (!v.chat) return tokenizer.encode(text, { addSpecialTokens: true });
  if (!engine.chatTemplate) throw new UsageError('this model has no chat template; drop --chat', '--chat');
  const messages = [...(v.system !== undefined ? [{ role: 'system', content: v.system }] : []), { role: 'user', content: text }];
  // NOTE: as transformers' apply_chat_template: the template writes its own special tokens.
  return tokenizer.encode(engine.chatTemplate.render(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
}

type SamplingFlags = Partial<Record<'temperature' | 'top-k' | 'top-p' | 'min-p' | 'repetition-penalty' | 'seed', string>>;

function samplingFrom(v: SamplingFlags): SamplingParams {
  return {
    ...DEFAULT_SAMPLING,
    logitBias: new Map(),
    temperature: parseFloatOption(v.temperature, '--temperature', { min: 0, max: 100, fallback: 0.8 }),
    topK: parseIntOption(v['top-k'], '--top-k', { min: 0, fallback: 0 }),
    topP: parseFloatOption(v['top-p'], '--top-p', { min: 0, max: 1, fallback: 1 }),
    minP: parseFloatOption(v['min-p'], '--min-p', { min: 0, max: 1, fallback: 0 }),
    repetitionPenalty: parseFloatOption(v['repetition-penalty'], '--repetition-penalty', { min: 0.01, max: 100, fallback: 1 }),
    seed: v.seed === undefined ? null : parseIntOption(v.seed, '--seed', { min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
  };
}

/** Streams one request's text to stdout; resolves with the generated ids and the done event. */
function stream(engine: EngineClient, reqId: string, ids: number[], maxTokens: number, sampling: SamplingParams, stop: string[]) {
  return new Promise<{ ids: number[]; done: Extract<GenerationEvent, { type: 'done' }> }>((resolve) => {
    const out: number[] = [];
    engine.submit({ reqId, promptIds: ids, maxTokens, sampling, stop, stopTokenIds: [], deadlineMs: null }, (e) => {
      if (e.text) process.stdout.write(e.text);
      if (e.type === 'delta') out.push(...e.tokenIds);
      else resolve({ ids: out, done: e });
    });
  });
}

export const command: CliCommand = {
  name: 'generate',
  summary: 'generate text from a prompt, streamed to stdout',
  usage: `Usage: edgewise generate --model <dir|file.ewm> (--prompt "..." | --prompt-ids 5,17,33) [options]

  --model <path>            a Hugging Face model folder or an .ewm container
  --prompt <text>           prompt text (BOS is added when the tokenizer says add_bos_token)
  --prompt-ids <ids>        prompt as comma-separated token ids, used exactly as given (no BOS)
  --chat                    wrap the prompt as a user message in the model's chat template
  --system <text>           system message (with --chat)
  --max-tokens <n>          most tokens to generate (default 128)
  --temperature <t>         0 = greedy (argmax); default 0.8
  --top-k <k>               keep the k most likely tokens (0 = off, default)
  --top-p <p>               nucleus sampling mass (1 = off, default)
  --min-p <p>               drop tokens below p × the top probability (0 = off, default)
  --repetition-penalty <r>  HF repetition penalty over prompt + output (1 = off, default)
  --seed <s>                seed of the sampler; same seed and options → same text
  --stop <text>             stop before this string (repeatable)
  --print-ids               end the output with one line of the generated ids, comma-separated
  --backend <cpu|webgpu|auto>  engine backend (default cpu; auto picks webgpu on a hardware GPU)
  --threads <n>             CPU threads for the cpu backend
  --stats                   print token counts, timings and tokens/s to stderr`,
  async run(argv) {
    const { values: v } = parseCommandArgs(argv, OPTIONS);
    if (v.model === undefined) throw new UsageError('--model is required', '--model');
    if ((v.prompt === undefined) === (v['prompt-ids'] === undefined)) throw new UsageError('give exactly one of --prompt and --prompt-ids', '--prompt');
    if (v['prompt-ids'] !== undefined && (v.chat || v.system !== undefined)) throw new UsageError('--chat and --system need --prompt, not --prompt-ids', '--chat');
    if (v.system !== undefined && !v.chat) throw new UsageError('--system needs --chat', '--system');
    const maxTokens = parseIntOption(v['max-tokens'], '--max-tokens', { min: 1, fallback: 128 });
    const sampling = samplingFrom(v);
    const threads = v.threads === undefined ? undefined : parseIntOption(v.threads, '--threads', { min: 1, max: 256 });
    const choice = (v.backend ?? 'cpu') as BackendChoice;
    if (!['cpu', 'webgpu', 'auto'].includes(choice)) throw new UsageError(`--backend must be cpu, webgpu or auto, got "${choice}"`, '--backend');
    const { backend } = await resolveBackend(choice);

    const engine = await startEngine({ modelPath: v.model, backend, maxBatch: 1, maxQueue: 0, threads });
    const reqId = randomUUID();
    const onSigint = () => engine.cancel(reqId);
    process.once('SIGINT', onSigint);
    try {
      const ids = promptIds(engine, v);
      const result = await stream(engine, reqId, ids, maxTokens, sampling, v.stop ?? []);
      process.stdout.write('\n');
      if (v['print-ids']) process.stdout.write(`${result.ids.join(',')}\n`);
      const d = result.done;
      if (v.stats) {
        const decodeMs = d.timings.totalMs - d.timings.ttftMs;
        const perSec = d.usage.completionTokens > 1 && decodeMs > 0 ? ((d.usage.completionTokens - 1) * 1000) / decodeMs : 0;
        process.stderr.write(
          `prompt ${d.usage.promptTokens} tokens, completion ${d.usage.completionTokens} tokens (${d.finishReason}); ` +
            `first token ${d.timings.ttftMs} ms, decode ${perSec.toFixed(1)} tokens/s, total ${d.timings.totalMs} ms\n`,
        );
      }
      if (d.finishReason === 'error') throw new EdgewiseError((d.error?.kind ?? 'engine_fatal') as EdgewiseError['kind'], d.error?.message ?? 'generation failed');
      return d.finishReason === 'cancelled' ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
      await engine.close();
    }
  },
};
