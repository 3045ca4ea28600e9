// Real llama.cpp on a tiny synthetic llama model (test/helpers.ts, src/gguf/synthetic.ts): its
// weights make greedy decoding write known text, so these tests assert exact outputs while
// node-llama-cpp's real loading, templating, sampling and streaming code runs.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TaskEngine } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SYNTHETIC_COMPLETION, SYNTHETIC_REPLY } from '../src/gguf/synthetic.js'
import type { GenerateInput, GenerateOutput } from '../src/task.js'
import { generateStreamed, llamaEngine, modelDir } from './helpers.js'

const exec = promisify(execFile)

let models: Awaited<ReturnType<typeof modelDir>>
let tinyPath: string
let engine: TaskEngine
let other: TaskEngine

/** A template that is not ChatML: it leaves the assistant's turn after `assistant:`, not a line break. */
const PLAIN_TEMPLATE =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"

beforeAll(async () => {
  models = await modelDir()
  tinyPath = await models.write('tiny')
  const entries = [
    { name: 'tiny', path: tinyPath },
    { name: 'plain-template', path: await models.write('plain', { chatTemplate: PLAIN_TEMPLATE }) },
    { name: 'tiny-q8', path: await models.write('tiny-q8', { tensorType: 'Q8_0' }) },
  ]
  engine = llamaEngine({ models: entries, defaultModel: 'tiny' }).engine
  // A second, independent backend on the same files: another node of the swarm.
  other = llamaEngine({ models: entries, defaultModel: 'tiny' }).engine
})

afterAll(async () => {
  await engine?.stop()
  await other?.stop()
  await models?.cleanup()
})

describe('generate: from a prompt', () => {
  it('continues the prompt greedily, streams it as text deltas, and reports tokens and timings', async () => {
    const { record, deltas } = await generateStreamed(engine, { prompt: 'Once upon a time' })
    expect(record.status).toBe('COMPLETED')
    const output = record.output!
    expect(output).toMatchObject({
      text: SYNTHETIC_COMPLETION,
      finishReason: 'stop',
      model: 'tiny',
      // <s> O n c e ▁upon ▁a ▁time: the first word follows no space, so it is spelled out.
      usage: { promptTokens: 8, completionTokens: 9 },
    })
    expect(deltas.join('')).toBe(output.text)
    const { timings } = output
    expect(timings.timeToFirstTokenMs).toBeGreaterThan(0)
    expect(timings.totalMs).toBeGreaterThanOrEqual(timings.timeToFirstTokenMs)
    expect(timings.loadMs).toBeLessThanOrEqual(timings.timeToFirstTokenMs)
    expect(timings.tokensPerSecond).toBeGreaterThan(0)
  })

  it('ends with finishReason length at maxTokens', async () => {
    const { record, deltas } = await generateStreamed(engine, { prompt: 'Once upon a time', maxTokens: 3 })
    expect(record.output).toMatchObject({
      text: 'the quick brown',
      finishReason: 'length',
      usage: { completionTokens: 3 },
    })
    expect(deltas.join('')).toBe('the quick brown')
  })

  it('stops before a stop sequence, which may start with a space or inside a token', async () => {
    const fox = await generateStreamed(engine, { prompt: 'Once upon a time', stop: [' fox', 'never'] })
    expect(fox.record.output).toMatchObject({ text: 'the quick brown', finishReason: 'stopSequence' })
    expect(fox.deltas.join('')).toBe('the quick brown')

    const row = await generateStreamed(engine, { prompt: 'Once upon a time', stop: ['row'] })
    expect(row.record.output).toMatchObject({ text: 'the quick b', finishReason: 'stopSequence' })
    expect(row.deltas.join('')).toBe('the quick b')
  })

  it('runs a quantized (Q8_0) model to the same greedy text', async () => {
    const { record } = await generateStreamed(engine, { model: 'tiny-q8', prompt: 'Once upon a time' })
    expect(record.output).toMatchObject({
      text: SYNTHETIC_COMPLETION,
      model: 'tiny-q8',
      finishReason: 'stop',
    })
  })
})

describe('generate: from chat messages', () => {
  it("answers in the model's chat template (ChatML from tokenizer.chat_template), streaming the reply", async () => {
    const { record, deltas } = await generateStreamed(engine, {
      messages: [
        { role: 'system', content: 'You are kind.' },
        { role: 'user', content: 'hello world' },
      ],
    })
    // The reply follows a line break: the one ChatML puts after `<|im_start|>assistant`. The model
    // ends its turn with `<|im_end|>`.
    expect(record.output).toMatchObject({
      text: SYNTHETIC_REPLY,
      finishReason: 'stop',
      usage: { completionTokens: 6 },
    })
    expect(deltas.join('')).toBe(SYNTHETIC_REPLY)
    // The template's markers and roles make the prompt much longer than the two contents.
    expect(record.output!.usage.promptTokens).toBeGreaterThan(30)
  })

  it('takes earlier assistant turns as part of the conversation', async () => {
    const one = await generateStreamed(engine, { messages: [{ role: 'user', content: 'hello world' }] })
    const three = await generateStreamed(engine, {
      messages: [
        { role: 'user', content: 'hello world' },
        { role: 'assistant', content: SYNTHETIC_REPLY },
        { role: 'user', content: 'again' },
      ],
    })
    expect(three.record.output?.text).toBe(SYNTHETIC_REPLY)
    expect(three.record.output!.usage.promptTokens).toBeGreaterThan(
      one.record.output!.usage.promptTokens + 10,
    )
  })

  it('uses whatever template the model file carries: another template, another prompt, another answer', async () => {
    // The same messages; this template leaves the turn after `assistant:`, so the model continues
    // as after any prompt instead of replying as after a line break.
    const { record, deltas } = await generateStreamed(engine, {
      model: 'plain-template',
      messages: [{ role: 'user', content: 'hello world' }],
    })
    expect(record.output).toMatchObject({ text: SYNTHETIC_COMPLETION, finishReason: 'stop' })
    expect(deltas.join('')).toBe(SYNTHETIC_COMPLETION)
  })
})

describe('generate: reproducible', () => {
  const run = (on: TaskEngine, input: GenerateInput) => on.run<GenerateOutput>({ type: 'generate', input })

  it('writes exactly the same text greedily on every run and on a second backend', async () => {
    for (const input of [
      { prompt: 'Once upon a time', maxTokens: 24 },
      { messages: [{ role: 'user' as const, content: 'hello world' }], maxTokens: 24 },
    ]) {
      const first = await run(engine, input)
      const again = await run(engine, input)
      const elsewhere = await run(other, input)
      expect(again).toMatchObject({ text: first.text, usage: first.usage, finishReason: first.finishReason })
      expect(elsewhere).toMatchObject({
        text: first.text,
        usage: first.usage,
        finishReason: first.finishReason,
      })
    }
  })

  it('writes the same text in another process, as a node elsewhere would', async () => {
    const input = { prompt: 'Once upon a time', temperature: 0.8, seed: 7, maxTokens: 24 }
    const here = await run(engine, input)
    // Another Node.js process, with its own llama.cpp, running the built package.
    const { stdout } = await exec(process.execPath, [
      join(import.meta.dirname, 'fixtures', 'other-node.mjs'),
      tinyPath,
      JSON.stringify(input),
    ])
    const there = JSON.parse(stdout) as GenerateOutput
    expect(there).toMatchObject({ text: here.text, usage: here.usage, finishReason: here.finishReason })
  })

  it('samples reproducibly with a seed: the same seed gives the same text anywhere, another seed another', async () => {
    const sampled = (seed: number): GenerateInput => ({
      prompt: 'Once upon a time',
      temperature: 1,
      seed,
      maxTokens: 32,
    })
    const one = await run(engine, sampled(1))
    expect((await run(engine, sampled(1))).text).toBe(one.text)
    expect((await run(other, sampled(1))).text).toBe(one.text)
    const two = await run(engine, sampled(2))
    expect(two.text).not.toBe(one.text)
    // Sampling leaves the greedy path: these are not the greedy text.
    expect(one.text).not.toBe(SYNTHETIC_COMPLETION)
    expect(two.text).not.toBe(SYNTHETIC_COMPLETION)
  })
})
