import { availableParallelism } from 'node:os'

/** Registry name of the backend. */
export const DEFAULT_BACKEND_NAME = 'llama'
/** Name of the task type. */
export const GENERATE_TASK_TYPE = 'generate'

/**
 * Generations at once. One already uses `threads` cores, and a provider with no free slot is
 * skipped by the router, so the swarm spreads requests instead of one node slowing them all down.
 */
export const DEFAULT_CONCURRENCY = 1
/** Upper bound on `concurrency`: each running task holds a sequence of the model's context. */
export const MAX_CONCURRENCY = 64

/**
 * Threads llama.cpp computes with: every core but one, so the node keeps one for its networking
 * (as the engine's text backend does).
 */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1)
}

/** Tokens of context per running task, capped by the context length the model was trained on. */
export const DEFAULT_CONTEXT_SIZE = 4096
/** Most tokens llama.cpp evaluates in one batch while reading a prompt. */
export const DEFAULT_BATCH_SIZE = 512
/**
 * The prompt is read in slices, so that a cancelled task stops within one (llama.cpp cannot stop
 * inside a batch): a slice is this many parameter × tokens of work, about 150 ms on one core of
 * the benchmark machine (measured: 0.5 ms per token of a 26M-parameter Q8_0 model), at most
 * `batchSize` tokens. The size follows from the model, never from timing, so every peer reads a
 * prompt in the same slices and computes the same numbers.
 */
export const PREFILL_SLICE_WORK = 7.5e9
/** The smallest slice: below it, reading a prompt gets much slower. */
export const PREFILL_MIN_SLICE = 32

/** A model no task has used for this long is unloaded: 10 minutes. */
export const DEFAULT_IDLE_UNLOAD_MS = 10 * 60 * 1000

/** `generate`: tokens generated when the input does not say. */
export const DEFAULT_MAX_TOKENS = 256
/** `generate`: the largest `maxTokens` a task may ask for (the context is usually the real bound). */
export const MAX_MAX_TOKENS = 32_768
/** `generate`: longest prompt, and longest total of the messages' contents, in characters. */
export const MAX_PROMPT_CHARS = 1_000_000
/** `generate`: most chat messages in one task. */
export const MAX_MESSAGES = 1000
/** `generate`: most stop sequences, and the longest, in characters (OpenAI's limit is 4). */
export const MAX_STOP_SEQUENCES = 4
export const MAX_STOP_LENGTH = 256
/** `generate`: highest `temperature`. */
export const MAX_TEMPERATURE = 2
/** `generate`: highest `topK`. */
export const MAX_TOP_K = 1000
/**
 * `generate`: default sampling. Greedy (temperature 0) unless the input asks otherwise, so the
 * same request gives the same text on every peer (and redundant runs can agree exactly); `topK`
 * and `topP` then are llama.cpp's own defaults.
 */
export const DEFAULT_TEMPERATURE = 0
export const DEFAULT_TOP_K = 40
export const DEFAULT_TOP_P = 0.95

/** The format id pulled GGUF models record in their manifest (`p2p-ai-model.json`). */
export const GGUF_FORMAT = 'gguf'
/**
 * The quantization a pull takes when the reference names none: llama.cpp's (`-hf`) and Ollama's
 * default, a good balance of size and quality for CPUs.
 */
export const DEFAULT_QUANTIZATION = 'Q4_K_M'

/** Model registry names: the engine's rule, `[a-z0-9][a-z0-9._-]*`, at most 128 characters. */
export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/
