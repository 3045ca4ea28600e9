import type { BackendRunOptions } from '@p2p-ai/engine'
import type { ChatHistoryItem, LlamaChatResponse, LlamaCompletionResponse, Token } from 'node-llama-cpp'
import { DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P } from './constants.js'
import { ContextLengthExceededError, GenerationFailedError } from './errors.js'
import type { Lease } from './pool.js'
import type { NodeLlamaCpp } from './runtime.js'
import { StopSequences } from './stop.js'
import type { ChatMessage, FinishReason, GenerateInput, GenerateOutput } from './task.js'

/** What node-llama-cpp says about why it stopped; both its completion and chat APIs share these. */
type StopReason = (LlamaCompletionResponse | LlamaChatResponse)['metadata']['stopReason']

/** The sampler and streaming options both of node-llama-cpp's generation APIs take. */
interface GenerationOptions {
  readonly onToken: (tokens: Token[]) => void
  readonly onTextChunk: (text: string) => void
  readonly signal: AbortSignal
  readonly stopOnAbortSignal: true
  readonly maxTokens: number
  readonly temperature: number
  readonly topK: number
  readonly topP: number
  readonly seed?: number
  readonly repeatPenalty: false
}

/** A prepared generation: the prompt's tokens as the model will read them, and how to run it. */
interface Prepared {
  readonly prompt: readonly Token[]
  run(options: GenerationOptions): Promise<StopReason>
  dispose(): void
}

function chatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'assistant'
      ? { type: 'model', response: [m.content] }
      : m.role === 'system'
        ? { type: 'system', text: m.content }
        : { type: 'user', text: m.content },
  )
  // The reply the model writes: a new assistant message after the conversation.
  history.push({ type: 'model', response: [] })
  return history
}

/**
 * A prompt goes to the model as is (after the BOS token); messages are rendered by the chat
 * wrapper node-llama-cpp resolves from the model's GGUF metadata (`tokenizer.chat_template`):
 * a built-in wrapper when the template is one it knows (ChatML, Llama 3, Mistral...), else the
 * Jinja template itself.
 */
function prepare(lib: NodeLlamaCpp, lease: Lease, input: GenerateInput): Prepared {
  const { sequence } = lease
  const { model } = lease.loaded
  if (input.prompt !== undefined) {
    // Tokenized as LlamaCompletion does, so these are the tokens it evaluates.
    const tokens = model.tokenize(input.prompt, false, 'trimLeadingSpace')
    const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null
    const completion = new lib.LlamaCompletion({ contextSequence: sequence })
    return {
      prompt: bos === null ? tokens : [bos, ...tokens],
      run: async (options) =>
        (await completion.generateCompletionWithMeta(tokens, { ...options, disableContextShift: true }))
          .metadata.stopReason,
      dispose: () => completion.dispose({ disposeSequence: false }),
    }
  }
  lease.loaded.chatWrapper ??= lib.resolveChatWrapper(model)
  const chat = new lib.LlamaChat({ contextSequence: sequence, chatWrapper: lease.loaded.chatWrapper })
  const history = chatHistory(input.messages ?? [])
  const { contextText } = chat.chatWrapper.generateContextState({ chatHistory: history })
  return {
    prompt: contextText.tokenize(model.tokenizer),
    run: async (options) => (await chat.generateResponse(history, options)).metadata.stopReason,
    dispose: () => chat.dispose({ disposeSequence: false }),
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/**
 * Reads the prompt into the sequence slice by slice, checking the signal between slices.
 * node-llama-cpp looks at its abort signal only once the whole prompt is read, and llama.cpp cannot
 * stop inside a batch: so a cancelled task stops within one slice instead of after the whole prompt.
 * The generation then finds the prompt in the sequence and reads only its last token.
 */
async function prefill(lease: Lease, prompt: readonly Token[], signal: AbortSignal): Promise<void> {
  const { sequence, loaded } = lease
  for (let at = 0; at < prompt.length - 1; at += loaded.prefillSlice) {
    signal.throwIfAborted()
    await sequence.evaluateWithoutGeneratingNewTokens(
      prompt.slice(at, Math.min(at + loaded.prefillSlice, prompt.length - 1)),
    )
  }
}

/**
 * Runs one generation on a leased sequence, streaming text deltas through `onProgress`. `startedAt`
 * is `performance.now()` at the start of the run (before the model was loaded).
 */
export async function generate(
  lib: NodeLlamaCpp,
  lease: Lease,
  input: GenerateInput,
  options: BackendRunOptions & { readonly startedAt: number },
): Promise<GenerateOutput> {
  const { name } = lease.loaded
  const contextSize = lease.sequence.contextSize
  const prepared = prepare(lib, lease, input)
  try {
    const promptTokens = prepared.prompt.length
    if (promptTokens >= contextSize) {
      throw new ContextLengthExceededError(
        `the prompt is ${promptTokens} tokens but model ${name} has a context of ${contextSize} tokens ` +
          'for the prompt and the reply together: shorten the prompt (or the conversation), or raise contextSize',
      )
    }
    const maxTokens = Math.min(input.maxTokens ?? DEFAULT_MAX_TOKENS, contextSize - promptTokens)
    const stops = new StopSequences(input.stop ?? [])
    const stopped = new AbortController()
    let completionTokens = 0
    let firstTokenAt: number | undefined
    let lastTokenAt = 0
    const stream = (delta: string): void => {
      if (delta !== '') options.onProgress?.({ fraction: Math.min(1, completionTokens / maxTokens), delta })
    }

    let stopReason: StopReason
    try {
      await prefill(lease, prepared.prompt, options.signal)
      stopReason = await prepared.run({
        onToken: (tokens) => {
          const now = performance.now()
          completionTokens += tokens.length
          firstTokenAt ??= now
          lastTokenAt = now
        },
        onTextChunk: (chunk) => {
          stream(stops.push(chunk))
          // Stopping is asking node-llama-cpp to abort: it checks between tokens.
          if (stops.stopped) stopped.abort()
        },
        signal: AbortSignal.any([options.signal, stopped.signal]),
        stopOnAbortSignal: true,
        maxTokens,
        temperature: input.temperature ?? DEFAULT_TEMPERATURE,
        topK: input.topK ?? DEFAULT_TOP_K,
        topP: input.topP ?? DEFAULT_TOP_P,
        ...(input.seed === undefined ? {} : { seed: input.seed }),
        // OpenAI's frequency and presence penalties default to 0: none here either.
        repeatPenalty: false,
      })
    } catch (err) {
      options.signal.throwIfAborted()
      throw new GenerationFailedError(`model ${name} failed while generating: ${(err as Error).message}`, {
        cause: err,
      })
    }
    options.signal.throwIfAborted()
    stream(stops.flush())

    const end = performance.now()
    const finishReason: FinishReason = stops.stopped
      ? 'stopSequence'
      : stopReason === 'maxTokens'
        ? 'length'
        : 'stop'
    const decodeMs = firstTokenAt === undefined ? 0 : lastTokenAt - firstTokenAt
    return {
      text: stops.text,
      finishReason,
      model: name,
      usage: { promptTokens, completionTokens },
      timings: {
        loadMs: round(lease.loadMs),
        timeToFirstTokenMs: round((firstTokenAt ?? end) - options.startedAt),
        tokensPerSecond:
          completionTokens > 1 && decodeMs > 0 ? round(((completionTokens - 1) * 1000) / decodeMs) : 0,
        totalMs: round(end - options.startedAt),
      },
    }
  } finally {
    prepared.dispose()
  }
}
