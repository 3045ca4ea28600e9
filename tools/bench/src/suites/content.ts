/**
 * Content by CID (`@p2p-ai/content`, docs/content.md), side by side with what a user would do
 * without it, on 127.0.0.1:
 *
 * - **10 MB input**: one task whose 10 MB input goes by CID (the provider fetches the blocks over
 *   Bitswap), against the same 10 MB sent inline as three tasks of 3.3 MB each (all in flight at
 *   once, each under the 4 MiB frame), the baseline. The provider's task returns the input's length,
 *   so the output stays small in both. Each round's input is fresh random text: a CID the provider
 *   already holds would be fetched from its own disk.
 * - **100 MB model**: a node pulls a 100 MB model from a peer that serves it
 *   (`pullModel`, what `models pull --from-swarm` runs: fetched, written, the sha256 checked),
 *   against a plain `cp` of the model file, the baseline. A fresh node each round (its start is not
 *   timed), so nothing is fetched from a previous round's blocks. Also reported: the pulling
 *   process's peak RSS growth, sampled every 20 ms (the fetch holds a window of 16 blocks).
 *
 * Every node runs in this process (a provider and two requesters: one with the plug-in, one
 * without, so its inputs stay inline).
 */

import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HeliaContent, heliaContent } from '@p2p-ai/content'
import type { Backend, ModelInfo } from '@p2p-ai/engine'
import { createNode, type NodeInit, type P2PNode } from '@p2p-ai/node'
import { z } from 'zod'
import { compare, defineSuite, measure } from '../runner.js'

const MB = 1_000_000
const TASK_TYPE = 'bench.length'
const MODEL = 'bench-model'

interface State {
  dir: string
  provider: P2PNode
  /** Takes content: its large inputs go by CID. */
  byCid: P2PNode
  /** Without the plug-in: its inputs go inline. */
  inline: P2PNode
  modelFile: string
  modelBytes: number
}

function init(dir: string, name: string, extra: Partial<NodeInit> = {}): NodeInit {
  return {
    dataDir: join(dir, name),
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engine: { concurrency: 4 },
    engineOptions: { workers: false },
    ...extra,
  }
}

/** Serves one model (the file of the run), so it is shared by CID; its task is never run. */
function modelBackend(model: ModelInfo): Backend {
  return {
    name: 'bench-models',
    taskTypes: [{ name: 'bench.model', input: z.object({}) }],
    async load() {},
    async unload() {},
    async run() {
      throw new Error('not run')
    },
    models: () => [model],
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** `bytes` of random text (base64): fresh content every call. */
function randomText(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes)
}

function cp(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', [from, to], { stdio: 'ignore' })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cp exited with ${code}`))))
  })
}

/** Samples this process's RSS every 20 ms while `fn` runs; returns the peak above the start. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ value: T; growthMb: number }> {
  const start = process.memoryUsage().rss
  let peak = start
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  try {
    const value = await fn()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { value, growthMb: (peak - start) / MB }
  } finally {
    clearInterval(timer)
  }
}

export default defineSuite<State>({
  name: 'content',
  description:
    'content by CID: a 10 MB task input by CID vs inline in 3 tasks; a 100 MB model pulled from a peer vs cp',
  async setup({ quick }) {
    const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-content-'))
    const modelBytes = (quick ? 20 : 100) * MB
    const modelDir = join(dir, 'model')
    await mkdir(modelDir, { recursive: true })
    const modelFile = join(modelDir, 'model.onnx')
    const weights = randomBytes(modelBytes)
    await writeFile(modelFile, weights)
    const model: ModelInfo = {
      name: MODEL,
      sha256: createHash('sha256').update(weights).digest('hex'),
      sizeBytes: modelBytes,
      taskTypes: ['bench.model'],
      loaded: false,
      files: { dir: modelDir, paths: ['model.onnx'] },
    }
    const [provider, byCid, inline] = await Promise.all([
      createNode({
        ...init(dir, 'provider', { backends: [modelBackend(model)], content: { enabled: true } }),
        contentStore: heliaContent(),
      }),
      createNode({ ...init(dir, 'by-cid', { content: { enabled: true } }), contentStore: heliaContent() }),
      createNode(init(dir, 'inline')),
    ])
    await Promise.all([provider.start(), byCid.start(), inline.start()])
    provider.registerTask({
      name: TASK_TYPE,
      input: z.object({ text: z.string() }),
      run: ({ text }) => ({ length: text.length }),
    })
    const address = provider.getMultiaddrs()[0] as string
    await Promise.all([byCid.connect(address), inline.connect(address)])
    const announced = (node: P2PNode, content: boolean) => () => {
      const caps = node.directory.record(provider.peerId.toString())?.capabilities
      return caps?.taskTypes.includes(TASK_TYPE) === true && (!content || caps.content !== undefined)
    }
    await until(announced(byCid, true), 'the provider announced content')
    await until(announced(inline, false), 'the provider announced its task type')
    // The model's CID is known (its 100 MB hashed once) before any round.
    await until(
      () => (provider.content as HeliaContent).modelCids().length === 1,
      'the model shared',
      120_000,
    )
    return { dir, provider, byCid, inline, modelFile, modelBytes }
  },
  async teardown(state) {
    await Promise.all([state.provider.stop(), state.byCid.stop(), state.inline.stop()])
    await rm(state.dir, { recursive: true, force: true })
  },
  cases: (state) => {
    const inputBytes = 10 * MB
    const pieces = 3
    const run = async (node: P2PNode, text: string): Promise<void> => {
      const record = await node
        .submit<{ length: number }>({ type: TASK_TYPE, input: { text }, timeoutMs: 120_000 })
        .result()
      if (record.status !== 'COMPLETED' || record.output?.length !== text.length) {
        throw new Error(`the task ended ${record.status}: ${record.error?.message ?? 'wrong length'}`)
      }
    }
    let pulls = 0
    return [
      compare(
        '10 MB input',
        [
          measure('inline, 3 tasks', async () => {
            const text = randomText(inputBytes)
            const size = Math.ceil(inputBytes / pieces)
            const started = performance.now()
            await Promise.all(
              Array.from({ length: pieces }, (_, i) =>
                run(state.inline, text.slice(i * size, (i + 1) * size)),
              ),
            )
            const totalMs = performance.now() - started
            return { totalMs, MBPerSec: inputBytes / MB / (totalMs / 1000) }
          }),
          measure('by CID, 1 task', async () => {
            const text = randomText(inputBytes)
            const started = performance.now()
            await run(state.byCid, text)
            const totalMs = performance.now() - started
            return { totalMs, MBPerSec: inputBytes / MB / (totalMs / 1000) }
          }),
        ],
        { baseline: 'inline, 3 tasks', rounds: 5 },
      ),
      compare(
        '100 MB model',
        [
          measure('cp', async () => {
            const to = join(state.dir, `cp-${pulls++}.onnx`)
            const started = performance.now()
            await cp(state.modelFile, to)
            const totalMs = performance.now() - started
            await rm(to, { force: true })
            return { totalMs, MBPerSec: state.modelBytes / MB / (totalMs / 1000) }
          }),
          measure('pulled from a peer', async () => {
            const name = `puller-${pulls++}`
            const node = await createNode({
              ...init(state.dir, name, { content: { enabled: true } }),
              contentStore: heliaContent({ shareModels: false }),
            })
            try {
              await node.start()
              await node.connect(state.provider.getMultiaddrs()[0] as string)
              await until(
                () =>
                  node.directory
                    .record(state.provider.peerId.toString())
                    ?.capabilities?.models.some((m) => m.id === MODEL && m.cid !== undefined) === true,
                'the model announced with its CID',
              )
              const started = performance.now()
              const { growthMb } = await peakRss(() => (node.content as HeliaContent).pullModel(MODEL))
              const totalMs = performance.now() - started
              return { totalMs, MBPerSec: state.modelBytes / MB / (totalMs / 1000), rssGrowthMb: growthMb }
            } finally {
              await node.stop()
              await rm(join(state.dir, name), { recursive: true, force: true })
            }
          }),
        ],
        { baseline: 'cp', rounds: 3 },
      ),
    ]
  },
})
