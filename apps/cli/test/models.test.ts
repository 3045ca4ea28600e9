import { copyFile, mkdir, readFile, rename } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { writeSyntheticLlamaModel } from '@p2p-ai/llama'
import { writeSyntheticBertModel } from '@p2p-ai/onnx'
import { afterEach, describe, expect, it } from 'vitest'
import { type Hub, startHub } from '../../../packages/engine/test/fixtures/hub.js'
import { cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

const hubs: Hub[] = []
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
  await cleanUp()
})

async function hubOf(repos: Parameters<typeof startHub>[0]): Promise<Hub> {
  const hub = await startHub(repos)
  hubs.push(hub)
  return hub
}

/** Starts a detached node in `dataDir` (127.0.0.1 only, no mDNS). */
async function startNode(home: string, dataDir: string, extra: string[] = []) {
  const r = await run(
    ['node', 'start', '--detach', '--json', '--data-dir', dataDir, ...LOCAL_NODE, ...extra],
    {
      home,
    },
  )
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as { peerId: string; addresses: string[] }
}

/**
 * A token classifier as transformers.js exports it: only the quantized graph under onnx/ (and an
 * fp16 one, which ONNX Runtime's CPU provider does not run well), with tokenizer.json and
 * config.json's id2label.
 */
async function writeTagger(dir: string): Promise<void> {
  await writeSyntheticBertModel(dir, {
    hidden: 16,
    layers: 1,
    heads: 2,
    words: ['alice', 'paris'],
    labels: ['O', 'B-PER', 'B-LOC'],
    tokenLabels: { alice: 'B-PER', paris: 'B-LOC' },
  })
  await mkdir(join(dir, 'onnx'))
  await rename(join(dir, 'model.onnx'), join(dir, 'onnx', 'model_quantized.onnx'))
  await copyFile(join(dir, 'onnx', 'model_quantized.onnx'), join(dir, 'onnx', 'model_fp16.onnx'))
}

const json = <T>(text: string): T => JSON.parse(text) as T

describe('models', () => {
  it('adds and pulls models into a running node, which serves them at once and announces them to its peers', async () => {
    const home = await tempHome()
    const tagger = join(home, 'tagger')
    await writeTagger(tagger)
    const repo = join(home, 'hub')
    await writeSyntheticLlamaModel(join(repo, 'tiny.Q8_0.gguf'), { tensorType: 'Q8_0' })
    await writeSyntheticLlamaModel(join(repo, 'tiny.Q4_K_M.gguf'))
    // The hub cuts the first download of each file halfway.
    const hub = await hubOf({ 'acme/tiny-GGUF': { dir: repo, cuts: 1 } })
    const nodeA = ['--data-dir', join(home, 'node-a')]
    const nodeB = ['--data-dir', join(home, 'node-b')]
    const a = await startNode(home, join(home, 'node-a'))
    await startNode(home, join(home, 'node-b'), ['--bootstrap', a.addresses[0]!])

    const added = await run(['models', 'add', 'tagger', tagger, '--json', ...nodeA], { home })
    expect(added.stderr).toBe('')
    expect(json(added.stdout)).toMatchObject({
      name: 'tagger',
      format: 'onnx',
      file: join(tagger, 'onnx', 'model_quantized.onnx'),
      otherFiles: ['onnx/model_fp16.onnx'],
      taskTypes: ['ner', 'tokenize', 'onnx'],
      served: true,
    })

    const pull = ['models', 'pull', 'acme/tiny-GGUF:Q8_0', '--endpoint', hub.endpoint, ...nodeA]
    const cut = await run(pull, { home })
    expect(cut.code).toBe(1)
    expect(cut.stderr).toContain('run the same pull again to continue where it stopped')
    const pulled = await run([...pull, '--json'], { home })
    expect(pulled.code).toBe(0)
    expect(json(pulled.stdout)).toMatchObject({
      name: 'tiny.q8_0',
      format: 'gguf',
      model: 'tiny.Q8_0.gguf',
      served: true,
    })
    // Without a terminal: plain progress lines, the resumed download continuing from half way.
    expect(pulled.stderr).toMatch(/^tiny\.Q8_0\.gguf: 100% .*\(resumed at /m)
    expect(hub.requests.some((r) => r.headers.range !== undefined)).toBe(true)

    // B hears of both models without A restarting.
    let models: string[] = []
    for (let i = 0; i < 50 && models.length < 2; i++) {
      const peers = json<Array<{ capabilities?: { models?: Array<{ id: string }> } }>>(
        (await run(['node', 'peers', '--json', ...nodeB], { home })).stdout,
      )
      models = (peers[0]?.capabilities?.models ?? [])
        .map((m) => m.id)
        .filter((id) => id === 'tagger' || id === 'tiny.q8_0')
      if (models.length < 2) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(models.sort()).toEqual(['tagger', 'tiny.q8_0'])
    // B runs no NER model itself; A, which announced one, runs the task.
    const tagged = await run(
      [
        'task',
        'submit',
        '--type',
        'ner',
        '--input',
        'Alice in Paris',
        '--param',
        'model=tagger',
        '--target',
        a.peerId,
        '--wait',
        '--json',
        ...nodeB,
      ],
      { home },
    )
    expect(tagged.stderr).toBe('')
    expect(json<{ output: { entities: unknown[][] } }>(tagged.stdout).output.entities[0]).toMatchObject([
      { type: 'PER', text: 'Alice', start: 0, end: 5 },
      { type: 'LOC', text: 'Paris', start: 9, end: 14 },
    ])

    const listed = json<{ models: Array<{ name: string; format: string; source: string; sha256?: string }> }>(
      (await run(['models', 'list', '--json', ...nodeA], { home })).stdout,
    )
    expect(listed.models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'tagger',
          format: 'onnx',
          source: 'added',
          sha256: expect.any(String),
        }),
        expect.objectContaining({
          name: 'tiny.q8_0',
          format: 'gguf',
          source: 'pulled',
          sha256: expect.any(String),
        }),
      ]),
    )
  }, 90_000)

  it('adds a GGUF file without a node, recorded for the next one, and refuses a bad name or a missing path with advice', async () => {
    const home = await tempHome()
    const file = join(home, 'tiny.gguf')
    await writeSyntheticLlamaModel(file)
    const dataDir = join(home, 'node-a')
    const added = await run(['models', 'add', 'tiny', file, '--data-dir', dataDir], { home })
    expect(added.stderr).toBe('')
    expect(added.stdout).toContain('added GGUF model tiny')
    expect(added.stdout).toContain('a node started from this data directory serves it')
    const stored = json<{ models: Array<{ name: string; format: string; sha256: string }> }>(
      await readFile(join(dataDir, 'models.json'), 'utf8'),
    )
    expect(stored.models).toEqual([
      expect.objectContaining({
        name: 'tiny',
        format: 'gguf',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ])
    // A GGUF file copied into the models directory is listed (and served) under its file's name.
    await mkdir(join(dataDir, 'models'))
    await copyFile(file, join(dataDir, 'models', 'Copied.Q8_0.gguf'))
    const listed = json<{ models: Array<{ name: string; format: string; source: string }> }>(
      (await run(['models', 'list', '--json', '--data-dir', dataDir], { home })).stdout,
    )
    expect(listed.models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'tiny', format: 'gguf', source: 'added' }),
        expect.objectContaining({ name: 'copied.q8_0', format: 'gguf', source: 'file' }),
      ]),
    )

    const badName = await run(['models', 'add', 'Tiny BERT', home], { home })
    expect(badName.code).toBe(2)
    expect(badName.stderr).toContain('must be lower-case letters')
    const missing = await run(['models', 'add', 'tiny', join(home, 'nowhere')], { home })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`${join(home, 'nowhere')} does not exist`)
    const empty = await run(['models', 'add', 'tiny', join(home, 'node-a')], { home })
    expect(empty.stderr).toContain('holds no model file')
    expect(empty.stderr).toContain('hint: give a .gguf file')
  })

  it('pulls an ONNX export from a hub (here one on 127.0.0.1) and lists it as pulled', async () => {
    const home = await tempHome()
    const source = join(home, 'hub-files')
    await writeSyntheticBertModel(source, { hidden: 16, layers: 1, heads: 2 })
    const hub = await hubOf({ 'acme/tiny-bert': { dir: source } })
    const dataDir = join(home, 'node-a')
    const r = await run(
      ['models', 'pull', 'acme/tiny-bert', '--endpoint', hub.endpoint, '--data-dir', dataDir],
      {
        home,
      },
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('pulled tiny-bert (model.onnx')
    expect(r.stderr).toMatch(/^model\.onnx: 100% /m)
    const list = await run(['models', 'list', '--json', '--data-dir', dataDir], { home })
    const { models } = json<{ models: Array<{ name: string; source: string; format: string }> }>(list.stdout)
    expect(models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'tiny-bert', source: 'pulled', format: 'onnx' }),
      ]),
    )
  })

  it('says clearly when the hub cannot be reached', async () => {
    const home = await tempHome()
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise((resolve) => server.close(resolve))
    const r = await run(['models', 'pull', 'all-minilm-l6-v2', '--endpoint', `http://127.0.0.1:${port}`], {
      home,
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${port}`)
    expect(r.stderr).toContain('seems to be offline')
    expect(r.stderr).toContain('hint: models pull needs the hub')
  })

  it('names the known short names and the reference forms for an unknown one', async () => {
    const home = await tempHome()
    const r = await run(['models', 'pull', 'minilm'], { home })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('known short names: all-minilm-l6-v2')
    expect(r.stderr).toContain('owner/name:Q4_K_M')
  })
})
