import type { TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import {
  GENERATE_TASK_TYPE,
  MAX_MAX_TOKENS,
  MAX_MESSAGES,
  MAX_PROMPT_CHARS,
  MAX_STOP_LENGTH,
  MAX_STOP_SEQUENCES,
  MAX_TEMPERATURE,
  MAX_TOP_K,
  MODEL_NAME_RE,
} from './constants.js'

/** Who wrote a chat message. */
export type ChatRole = 'system' | 'user' | 'assistant'

/** One message of a conversation. */
export interface ChatMessage {
  readonly role: ChatRole
  readonly content: string
}

/**
 * Input of a `generate` task: a `prompt` to continue, or chat `messages` to answer (rendered with
 * the chat template in the model's GGUF metadata), never both.
 */
export interface GenerateInput {
  /** Text to continue, as is (no chat template). */
  readonly prompt?: string | undefined
  /** A conversation; the model writes the next assistant message. */
  readonly messages?: readonly ChatMessage[] | undefined
  /** Registry name of the model. @default the backend's `defaultModel`, or its only model */
  readonly model?: string | undefined
  /** Most tokens to generate. @default 256 */
  readonly maxTokens?: number | undefined
  /** 0 is greedy: the most likely token every time, the same text on every run. 0..2. @default 0 */
  readonly temperature?: number | undefined
  /** Nucleus sampling: sample from the smallest set of tokens whose probability reaches `topP`. @default 0.95 */
  readonly topP?: number | undefined
  /** Sample from the `topK` most likely tokens; 0 turns the limit off. @default 40 */
  readonly topK?: number | undefined
  /** Seed of the sampler: with the same seed (and temperature > 0) the same text comes back. */
  readonly seed?: number | undefined
  /** Generation stops before the first of these strings; it is not part of the text. At most 4. */
  readonly stop?: readonly string[] | undefined
}

/**
 * Why the generation ended: `stop`, the model ended its text (an end-of-sequence or end-of-turn
 * token); `length`, it reached `maxTokens` or the end of its context; `stopSequence`, it wrote one
 * of the input's `stop` strings.
 */
export type FinishReason = 'stop' | 'length' | 'stopSequence'

/** Output of a `generate` task. */
export interface GenerateOutput {
  /** The generated text (for `messages`, the assistant's reply), without any stop sequence. */
  readonly text: string
  readonly finishReason: FinishReason
  /** The model that wrote it. */
  readonly model: string
  readonly usage: {
    /** Tokens of the prompt as the model read it (chat template and BOS included). */
    readonly promptTokens: number
    /** Tokens the model generated (the end-of-sequence token not counted). */
    readonly completionTokens: number
  }
  readonly timings: {
    /** Loading the model for this task; 0 when it was loaded already. */
    readonly loadMs: number
    /**
     * From the start of the run (model loading included) to the first generated token, or to the
     * end when the model generated none.
     */
    readonly timeToFirstTokenMs: number
    /** Generation speed after the first token: (completionTokens - 1) / time from first to last. */
    readonly tokensPerSecond: number
    /** The whole run. */
    readonly totalMs: number
  }
}

const text = (max: number) => z.string().max(max, `at most ${max} characters`)

export const chatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: text(MAX_PROMPT_CHARS),
})

export const generateInputSchema = z
  .strictObject({
    prompt: text(MAX_PROMPT_CHARS).optional(),
    messages: z
      .array(chatMessageSchema)
      .min(1, 'at least one message')
      .max(MAX_MESSAGES, `at most ${MAX_MESSAGES} messages`)
      .optional(),
    model: z.string().regex(MODEL_NAME_RE, 'a registry name: [a-z0-9][a-z0-9._-]*').optional(),
    maxTokens: z.int().min(1).max(MAX_MAX_TOKENS).optional(),
    temperature: z.number().min(0).max(MAX_TEMPERATURE).optional(),
    topP: z.number().gt(0).max(1).optional(),
    topK: z.int().min(0).max(MAX_TOP_K).optional(),
    seed: z.int().min(0).max(0xffff_ffff).optional(),
    stop: z
      .array(z.string().min(1, 'a stop sequence cannot be empty').max(MAX_STOP_LENGTH))
      .max(MAX_STOP_SEQUENCES, `at most ${MAX_STOP_SEQUENCES} stop sequences`)
      .optional(),
  })
  .refine((v) => (v.prompt === undefined) !== (v.messages === undefined), {
    message: 'give exactly one of `prompt` or `messages`',
  })
  .refine((v) => (v.messages?.reduce((n, m) => n + m.content.length, 0) ?? 0) <= MAX_PROMPT_CHARS, {
    message: `the messages' contents hold at most ${MAX_PROMPT_CHARS} characters together`,
    path: ['messages'],
  })

/** The `generate` task type, for the engine to validate inputs with. */
export const generateTaskType: TaskType<GenerateInput> = {
  name: GENERATE_TASK_TYPE,
  description: 'Generate text with a GGUF language model: continue a prompt or answer chat messages',
  input: generateInputSchema,
}
