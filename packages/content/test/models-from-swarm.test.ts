// Models shared between peers by CID: a node that serves a model announces the CID of its files
// and provides their blocks straight from the files; a peer that lacks the model pulls it (a
// progress report per block, the model file checked against the announced SHA-256), registers
// it, shares it in turn; and with `models.autoFetch` a task naming the model fetches it first.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Backend, ModelInfo } from '@p2p-ai/engine'
import { createNode, type NodeInit, type P2PNode } from '@p2p-ai/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  type HeliaContent,
  heliaContent,
  type SwarmPulledModel,
  type SwarmPullProgress,
} from '../src/index.js'
import { until } from './fixtures/nodes.js'

const MiB = 1024 * 1024

/** A backend that serves whatever models it is given: `model.hash` answers with the model's sha256. */
function modelsBackend(models: ModelInfo[]): Backend {
  return {
    name: 'models',
    taskTypes: [{ name: 'model.hash', input: z.object({ model: z.string() }) }],
    async load() {},
    async unload() {},
    async run(task) {
      const name = (task.input as { model: string }).model
      const model = models.find((m) => m.name === name)
      if (model === undefined)
        throw Object.assign(new Error(`no model ${name}`), { code: 'ERR_UNKNOWN_MODEL' })
      return { sha256: model.sha256 }
    },
    models: () => models,
  }
}

let dir: string
let owner: P2PNode
let lacking: P2PNode
const lackingModels: ModelInfo[] = []
const ownerModels: ModelInfo[] = []
const registered: SwarmPulledModel[] = []
let weights: Buffer
let weightsSha256: string

function init(name: string, models: ModelInfo[], extra: Partial<NodeInit> = {}): NodeInit {
  return {
    dataDir: join(dir, name),
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engine: { concurrency: 2 },
    engineOptions: { workers: false },
    backends: [modelsBackend(models)],
    content: { enabled: true },
    ...extra,
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-models-'))
  const modelDir = join(dir, 'owned', 'tiny')
  await mkdir(modelDir, { recursive: true })
  // 3.5 MiB of weights (four blocks) and a small config beside them.
  weights = Buffer.alloc(3.5 * MiB)
  for (let i = 0; i < weights.length; i += 4) weights.writeUInt32LE((i * 2654435761) >>> 0, i)
  weightsSha256 = createHash('sha256').update(weights).digest('hex')
  await writeFile(join(modelDir, 'model.onnx'), weights)
  await writeFile(join(modelDir, 'config.json'), '{"hidden_size":8}\n')
  ownerModels.push({
    name: 'tiny',
    sha256: weightsSha256,
    sizeBytes: weights.length,
    taskTypes: ['model.hash'],
    loaded: false,
    files: { dir: modelDir },
  })
  const content = (name: string, register?: (m: SwarmPulledModel) => void) =>
    heliaContent({
      stallTimeoutMs: 5_000,
      modelPollMs: 100,
      modelsDir: join(dir, name, 'models'),
      ...(register === undefined ? {} : { registerModel: async (m: SwarmPulledModel) => register(m) }),
    })
  ;[owner, lacking] = await Promise.all([
    createNode({ ...init('owner', ownerModels), contentStore: content('owner') }),
    createNode({
      ...init('lacking', lackingModels, { models: { autoFetch: true } }),
      contentStore: content('lacking', (m) => {
        registered.push(m)
        lackingModels.push({
          name: m.name,
          sha256: m.manifest.files[m.manifest.model]?.sha256 as string,
          sizeBytes: m.manifest.files[m.manifest.model]?.sizeBytes as number,
          taskTypes: ['model.hash'],
          loaded: false,
          files: { dir: m.dir },
        })
      }),
    }),
  ])
  await Promise.all([owner.start(), lacking.start()])
  await lacking.connect(owner.getMultiaddrs()[0] as string)
  await until(
    () =>
      lacking.directory
        .record(owner.peerId.toString())
        ?.capabilities?.models.some((m) => m.cid !== undefined) === true,
    'the owner announced the model with its CID',
  )
}, 30_000)

afterAll(async () => {
  await Promise.all([owner?.stop(), lacking?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('a model a node serves', () => {
  it('is announced with the CID of its files, the same CID its files give on any node', async () => {
    const announced = lacking.directory.record(owner.peerId.toString())?.capabilities?.models[0]
    expect(announced).toMatchObject({ id: 'tiny', sha256: weightsSha256 })
    expect(announced?.cid).toMatch(/^bafybei/)
    expect((owner.content as HeliaContent).modelCids()).toEqual([
      { name: 'tiny', sha256: weightsSha256, cid: announced?.cid },
    ])
  })
})

describe('models pull --from-swarm (pullModel)', () => {
  it('fetches the files from the peer that announces it, checks the sha256, registers and shares it', async () => {
    const progress: SwarmPullProgress[] = []
    const pulled = await (lacking.content as HeliaContent).pullModel('tiny', {
      onProgress: (p) => progress.push(p),
    })
    expect(pulled.manifest.model).toBe('model.onnx')
    expect(pulled.manifest.files['model.onnx']).toEqual({ sha256: weightsSha256, sizeBytes: weights.length })
    // (Buffer.equals: a deep equality of megabytes takes the matcher minutes.)
    expect((await readFile(join(pulled.dir, 'model.onnx'))).equals(weights)).toBe(true)
    expect(await readFile(join(pulled.dir, 'config.json'), 'utf8')).toBe('{"hidden_size":8}\n')
    expect(registered.map((m) => m.name)).toEqual(['tiny'])
    // Progress as the blocks came in, ending with the whole file.
    const weightsProgress = progress.filter((p) => p.file === 'model.onnx')
    expect(weightsProgress.length).toBeGreaterThanOrEqual(4)
    expect(weightsProgress.at(-1)).toEqual({
      file: 'model.onnx',
      receivedBytes: weights.length,
      totalBytes: weights.length,
    })
    // Now it shares the model too, under the same CID.
    await until(() => (lacking.content as HeliaContent).modelCids().length === 1, 'the pulled model shared')
    expect((lacking.content as HeliaContent).modelCids()[0]?.cid).toBe(pulled.cid)
  })

  it('a model no peer announces fails with ERR_MODEL_NOT_IN_SWARM, and a wrong sha256 is not taken', async () => {
    await expect((lacking.content as HeliaContent).pullModel('absent')).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_IN_SWARM',
    })
    await expect(
      (lacking.content as HeliaContent).pullModel('tiny', { sha256: 'f'.repeat(64) }),
    ).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_IN_SWARM' })
  })
})

describe('models.autoFetch', () => {
  it('a task naming a model this node lacks fetches it from a peer first, then runs here', async () => {
    // A second model of the owner's, which the lacking node has never had.
    const second = join(dir, 'owned', 'second')
    await mkdir(second, { recursive: true })
    const bytes = Buffer.from('second model weights')
    await writeFile(join(second, 'weights.bin'), bytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    ownerModels.push({
      name: 'second',
      sha256,
      sizeBytes: bytes.length,
      taskTypes: ['model.hash'],
      loaded: false,
      files: { dir: second },
    })
    await until(
      () =>
        lacking.directory
          .record(owner.peerId.toString())
          ?.capabilities?.models.some((m) => m.id === 'second' && m.cid !== undefined) === true,
      'the owner announced its second model with a CID',
    )
    const record = await lacking
      .submit<{ sha256: string }>({ type: 'model.hash', input: { model: 'second' } }, { target: 'local' })
      .result()
    expect(record.error).toBeUndefined()
    expect(record.output).toEqual({ sha256 })
    expect(record.peer).toBe(lacking.peerId.toString())
    expect(registered.map((m) => m.name)).toEqual(['tiny', 'second'])
    expect((await readFile(join(dir, 'lacking', 'models', 'second', 'weights.bin'))).equals(bytes)).toBe(true)
  })
})
