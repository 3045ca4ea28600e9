// The OpenAI-compatible API, driven by the official `openai` client as a user would (base URL and
// API key), against two real nodes: A serves a synthetic GGUF chat model (llama.cpp) and a
// synthetic BERT embedding model (ONNX Runtime), B the same GGUF model.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type LlamaBackend, llamaBackend, SYNTHETIC_REPLY, writeSyntheticLlamaModel } from '@p2p-ai/llama'
import { onnxBackend, writeSyntheticBertModel } from '@p2p-ai/onnx'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { P2PNode } from '../src/node.js'
import { openaiApi, PEER_HEADER, TARGET_HEADER } from '../src/openai.js'
import { localInit, tempDir, waitUntil } from './helpers.js'

const API_KEY = 'test-key-0123456789abcdef'
let dir: Awaited<ReturnType<typeof tempDir>>
let a: P2PNode
let b: P2PNode
let llamaA: LlamaBackend
let server: Server
let client: OpenAI

const hello = {
  model: 'tiny',
  messages: [{ role: 'user' as const, content: 'Hi there!' }],
  temperature: 0,
  max_tokens: 32,
}

beforeAll(async () => {
  dir = await tempDir('p2p-ai-openai-')
  const tiny = join(dir.path, 'tiny.gguf')
  const endless = join(dir.path, 'endless.gguf')
  await writeSyntheticLlamaModel(tiny)
  await writeSyntheticLlamaModel(endless, { endless: true, contextLength: 4096 })
  await writeSyntheticBertModel(join(dir.path, 'bert'), { hidden: 32 })
  const models = [
    { name: 'tiny', path: tiny },
    { name: 'endless', path: endless },
  ]
  llamaA = llamaBackend({ models, threads: 1 })
  const llamaB = llamaBackend({ models, threads: 1 })
  const onnx = onnxBackend({
    worker: false,
    builtinModels: false,
    models: [{ name: 'bert', path: join(dir.path, 'bert') }],
  })
  ;[a, b] = await Promise.all([
    createNode({ ...localInit(join(dir.path, 'a')), backends: [llamaA, onnx] }),
    createNode({ ...localInit(join(dir.path, 'b')), backends: [llamaB] }),
  ])
  // What the nodes announce: their models, hashed and read (a CLI node does this at start).
  await Promise.all([onnx.scanModels(), llamaA.load(), llamaB.load()])
  await a.connect(b.getMultiaddrs()[0] as string)
  await waitUntil(
    () => a.peer(b.peerId)?.capabilities?.models.some((m) => m.family === 'llama') === true,
    10_000,
  )
  const api = openaiApi({ node: a, apiKey: API_KEY })
  server = createServer((req, res) => {
    void api.handle(req, res).then((served) => {
      if (!served) res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY, maxRetries: 0 })
}, 30_000)

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await Promise.all([a?.stop(), b?.stop()])
  await dir?.[Symbol.asyncDispose]()
})

describe('the OpenAI-compatible API, with the openai client', () => {
  it('lists the swarm’s chat and embedding models', async () => {
    const models = []
    for await (const model of client.models.list()) models.push(model)
    expect(models.map((m) => m.id)).toEqual(['bert', 'endless', 'tiny'])
    expect(models.find((m) => m.id === 'tiny')).toMatchObject({
      object: 'model',
      owned_by: 'p2p-ai',
      p2p_ai: { task_types: ['generate'], providers: 2, family: 'llama', quantization: 'F32' },
    })
    expect((await client.models.retrieve('bert')).id).toBe('bert')
  })

  it('answers a chat completion with the model’s greedy reply', async () => {
    const completion = await client.chat.completions.create(hello)
    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'tiny',
      choices: [
        { index: 0, message: { role: 'assistant', content: SYNTHETIC_REPLY }, finish_reason: 'stop' },
      ],
    })
    expect(completion.id).toMatch(/^chatcmpl-/)
    const usage = completion.usage as OpenAI.CompletionUsage
    expect(usage.completion_tokens).toBeGreaterThan(0)
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
  })

  it('streams a chat completion, chunk by chunk, with usage at the end', async () => {
    const stream = await client.chat.completions.create({
      ...hello,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    const finishes: Array<string | null> = []
    let usage: OpenAI.CompletionUsage | undefined | null
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk')
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.choices[0] !== undefined) finishes.push(chunk.choices[0].finish_reason)
      usage ??= chunk.usage
    }
    expect(text).toBe(SYNTHETIC_REPLY)
    expect(finishes.at(-1)).toBe('stop')
    expect(usage?.completion_tokens).toBeGreaterThan(0)
  })

  it('writes the same text on both nodes under greedy decoding, as on every run before', async () => {
    const texts: string[] = []
    for (const target of ['local', b.peerId]) {
      const { data, response } = await client.chat.completions
        .create(hello, { headers: { [TARGET_HEADER]: target } })
        .withResponse()
      expect(response.headers.get(PEER_HEADER)).toBe(target === 'local' ? a.peerId : b.peerId)
      texts.push(data.choices[0]?.message.content ?? '')
    }
    expect(texts).toEqual([SYNTHETIC_REPLY, SYNTHETIC_REPLY])
  })

  it('embeds texts as the embed task does, in floats and in base64', async () => {
    const texts = ['Peers share idle compute.', 'Tasks are signed.']
    const reference = (await a.engine.run({ type: 'embed', input: { model: 'bert', texts } })) as {
      embeddings: number[][]
    }
    // The client asks for base64 unless told otherwise, and decodes it itself.
    const decoded = await client.embeddings.create({ model: 'bert', input: texts })
    const floats = await client.embeddings.create({ model: 'bert', input: texts, encoding_format: 'float' })
    for (const response of [decoded, floats]) {
      expect(response).toMatchObject({ object: 'list', model: 'bert' })
      expect(response.usage.prompt_tokens).toBeGreaterThan(0)
      response.data.forEach((item, i) => {
        expect(item.index).toBe(i)
        expect(Float32Array.from(item.embedding)).toEqual(
          Float32Array.from(reference.embeddings[i] as number[]),
        )
      })
    }
  })

  it('answers with OpenAI’s errors, which the client raises as its own classes', async () => {
    await expect(client.chat.completions.create({ ...hello, model: 'gpt-4o' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    })
    await expect(client.chat.completions.create({ ...hello, model: 'bert' })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    )
    await expect(
      client.chat.completions.create({
        ...hello,
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      }),
    ).rejects.toMatchObject({ status: 400, param: 'tools', type: 'invalid_request_error' })
    await expect(client.chat.completions.create({ ...hello, max_tokens: 0 })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    )
    const stranger = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0 })
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it('cancels the generation when the client stops reading, and frees its slot', async () => {
    const stream = await client.chat.completions.create(
      { ...hello, model: 'endless', max_tokens: 4000, stream: true },
      { headers: { [TARGET_HEADER]: 'local' } },
    )
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break
    }
    await waitUntil(() => llamaA.loadedModels().every((m) => m.activeTasks === 0), 5_000, 'slot freed')
    const cancelled = a.tasks.list({ type: 'generate', limit: 1 })[0]
    expect(cancelled).toMatchObject({ status: 'CANCELLED' })
  })
})
