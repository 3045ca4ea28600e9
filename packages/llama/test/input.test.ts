import type { TaskEngine } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { llamaBackend } from '../src/backend.js'
import { llamaEngine, modelDir } from './helpers.js'

let models: Awaited<ReturnType<typeof modelDir>>
let engine: TaskEngine

beforeAll(async () => {
  models = await modelDir()
  engine = llamaEngine({ models: [{ name: 'tiny', path: await models.write('tiny') }] }).engine
})

afterAll(async () => {
  await engine?.stop()
  await models?.cleanup()
})

/** The coded error `submit` rejects a `generate` input with. */
async function refusal(input: unknown): Promise<{ code: string; message: string }> {
  try {
    await engine.submit({ type: 'generate', input })
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message }
  }
  throw new Error('the input was accepted')
}

describe('generate: bad input is refused before it reaches llama.cpp', () => {
  it.each([
    ['neither prompt nor messages', {}, 'give exactly one of `prompt` or `messages`'],
    ['both prompt and messages', { prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, 'exactly one'],
    ['no messages', { messages: [] }, 'messages: at least one message'],
    ['an unknown role', { messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    ['a message without content', { messages: [{ role: 'user' }] }, 'messages[0].content'],
    ['a prompt that is not text', { prompt: 42 }, 'prompt'],
    [
      'a prompt of more than a million characters',
      { prompt: 'x'.repeat(1_000_001) },
      'at most 1000000 characters',
    ],
    ['maxTokens 0', { prompt: 'a', maxTokens: 0 }, 'maxTokens'],
    ['maxTokens not an integer', { prompt: 'a', maxTokens: 1.5 }, 'maxTokens'],
    ['temperature above 2', { prompt: 'a', temperature: 3 }, 'temperature'],
    ['topP 0', { prompt: 'a', topP: 0 }, 'topP'],
    ['a negative topK', { prompt: 'a', topK: -1 }, 'topK'],
    ['a seed beyond 32 bits', { prompt: 'a', seed: 2 ** 32 }, 'seed'],
    ['five stop sequences', { prompt: 'a', stop: ['a', 'b', 'c', 'd', 'e'] }, 'at most 4 stop sequences'],
    ['an empty stop sequence', { prompt: 'a', stop: [''] }, 'a stop sequence cannot be empty'],
    ['a model name with a slash', { prompt: 'a', model: '../etc/passwd' }, 'model: a registry name'],
    ['an unknown field', { prompt: 'a', max_tokens: 5 }, 'max_tokens'],
  ])('%s → ERR_INVALID_INPUT naming the field', async (_, input, says) => {
    const err = await refusal(input)
    expect(err.code).toBe('ERR_INVALID_INPUT')
    expect(err.message).toContain(says)
  })
})

describe('llamaBackend(init): validated at construction', () => {
  it.each([
    [{ concurrency: 0 }, 'concurrency must be an integer within 1..64'],
    [{ threads: 1.5 }, 'threads must be an integer'],
    [{ contextSize: 8 }, 'contextSize must be at least 16 tokens'],
    [{ idleUnloadMs: -5 }, 'idleUnloadMs must be a non-negative integer'],
    [{ name: 'Llama!' }, 'name "Llama!" must match'],
    [{ defaultModel: 'nope' }, 'defaultModel "nope" is not among the models'],
  ])('%o → ERR_INVALID_LLAMA_OPTIONS', (init, says) => {
    expect(() => llamaBackend(init)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_LLAMA_OPTIONS' }))
    expect(() => llamaBackend(init)).toThrow(says)
  })

  it.each([
    [{ name: 'Bad Name', path: '/m.gguf' }, 'name must match'],
    [{ name: 'm', path: '' }, 'path must be a non-empty string'],
    [{ name: 'm', path: '/m.gguf', sha256: 'ABC' }, 'sha256 must be 64 lower-case hex digits'],
    [{ name: 'm', path: '/m.gguf', contextSize: 4 }, 'contextSize must be an integer >= 16'],
  ])('a model entry %o → ERR_INVALID_MODEL_ENTRY', (entry, says) => {
    expect(() => llamaBackend({ models: [entry] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MODEL_ENTRY' }),
    )
    expect(() => llamaBackend({ models: [entry] })).toThrow(says)
  })

  it('costs nothing until used: constructing and registering does not start llama.cpp', () => {
    const backend = llamaBackend({ models: [{ name: 'm', path: '/nowhere/m.gguf' }] })
    expect(backend.models()).toEqual([])
    expect(backend.loadedModels()).toEqual([])
    expect(backend.concurrency).toBe(1)
    expect(backend.taskTypes.map((t) => t.name)).toEqual(['generate'])
    // No worker recipe: it runs on the engine's main thread (llama.cpp has its own threads).
    expect(backend.worker).toBeUndefined()
  })
})
