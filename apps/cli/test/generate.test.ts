// Text generation from the command line and from an OpenAI client, against a real node started by
// the CLI with a synthetic GGUF model in its models directory.
import { spawn } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SYNTHETIC_COMPLETION, SYNTHETIC_REPLY, writeSyntheticLlamaModel } from '@p2p-ai/llama'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, cleanUp, cliEnv, LOCAL_NODE, run, tempHome } from './helpers.js'

let home: string
let dataDir: string
let control: string

beforeAll(async () => {
  home = await tempHome()
  dataDir = join(home, 'node')
  await mkdir(join(dataDir, 'models'), { recursive: true })
  await writeSyntheticLlamaModel(join(dataDir, 'models', 'Tiny.gguf'))
  await writeSyntheticLlamaModel(join(dataDir, 'models', 'endless.gguf'), {
    endless: true,
    contextLength: 4096,
  })
  const started = await run(['node', 'start', '--detach', '--json', '--data-dir', dataDir, ...LOCAL_NODE], {
    home,
  })
  expect(started.code, started.stderr).toBe(0)
  control = (JSON.parse(started.stdout) as { control: string }).control
}, 60_000)

afterAll(cleanUp)

const chat = [
  '--type',
  'generate',
  '--input',
  'Hi there!',
  '--param',
  'model=tiny',
  '--param',
  'maxTokens=32',
]

describe('task submit --type generate --stream', () => {
  it('prints the text as it is generated', async () => {
    const r = await run(['task', 'submit', ...chat, '--stream', '--data-dir', dataDir], { home })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${SYNTHETIC_REPLY}\n`)
  })

  it('prints the events as JSON lines with --json, the task last', async () => {
    const r = await run(['task', 'submit', ...chat, '--stream', '--json', '--data-dir', dataDir], { home })
    expect(r.code).toBe(0)
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; text?: string })
    expect(
      events
        .filter((e) => e.type === 'delta')
        .map((e) => e.text)
        .join(''),
    ).toBe(SYNTHETIC_REPLY)
    expect(events.at(-1)).toMatchObject({ type: 'end', task: { status: 'COMPLETED', type: 'generate' } })
  })

  it('cancels the task on Ctrl-C', async () => {
    const input = JSON.stringify({ model: 'endless', prompt: 'Once upon a time', maxTokens: 4000 })
    const child = spawn(
      process.execPath,
      [BIN, 'task', 'submit', '--type', 'generate', '--input-json', input, '--stream', '--data-dir', dataDir],
      { env: cliEnv(home), cwd: home },
    )
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString()
        resolve()
      }),
    )
    child.kill('SIGINT')
    const code = await new Promise((resolve) => child.on('exit', resolve))
    expect(code).toBe(130)
    const id = /cancelled task (\S+)/.exec(stderr)?.[1]
    expect(id, stderr).toBeDefined()
    const status = await run(['task', 'status', id as string, '--json', '--data-dir', dataDir], { home })
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'CANCELLED' })
    // What printed before Ctrl-C is the start of the endless model's text.
    expect(stdout.trim()).not.toBe('')
    expect(`${SYNTHETIC_COMPLETION} `.repeat(200).startsWith(stdout.trimEnd())).toBe(true)
  })
})

describe('the OpenAI-compatible endpoint of a CLI node', () => {
  it('takes the control token as API key and streams a chat completion', async () => {
    const apiKey = (await readFile(join(dataDir, 'control.token'), 'utf8')).trim()
    const client = new OpenAI({ baseURL: `${control}/openai/v1`, apiKey, maxRetries: 0 })
    const ids = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids).toEqual(['endless', 'tiny'])
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hi there!' }],
      temperature: 0,
      stream: true,
    })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe(SYNTHETIC_REPLY)
    const stranger = new OpenAI({ baseURL: `${control}/openai/v1`, apiKey: 'not-the-token', maxRetries: 0 })
    await expect(stranger.models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' })
  })
})
