/**
 * The remote overhead of real work: one `embed` batch submitted by the same node to itself
 * (`target: 'local'`) and to a peer in a child process (`target: <PeerId>`), side by side in one
 * run. Both nodes are `createNode` with the onnx backend in its worker thread (the default) serving
 * the same synthetic model the size of all-MiniLM-L6-v2 (22.6M parameters, random weights, built
 * at setup: nothing is downloaded). Local and remote calls alternate, so both see the same machine.
 *
 * Per batch size: p50/p99 of each, the difference of the p50s (remote − local) in ms and as a
 * fraction of the local p50, the provider's own time for the task (from the result's `timings`),
 * and the size of the output JSON the signed result carries.
 *
 * Requirement: "an `embed` batch run on a peer against the same batch run locally; the difference
 * should be a small fraction of the inference time."
 *
 * The same file is the provider: run with `P2P_AI_BENCH_REMOTE_ROLE=provider`, it serves the model
 * at `P2P_AI_BENCH_REMOTE_MODEL` from a node whose data directory is `P2P_AI_BENCH_REMOTE_DATA`.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { MINILM_SHAPE, onnxBackend, writeSyntheticBertModel } from '@p2p-ai/onnx'
import { lineReader } from '../child-lines.js'
import { type BenchCase, defineSuite, measure } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_REMOTE_ROLE'
const MODEL_ENV = 'P2P_AI_BENCH_REMOTE_MODEL'
const DATA_ENV = 'P2P_AI_BENCH_REMOTE_DATA'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const MODEL = 'minilm'

/** Short, realistic sentences: a few words each, like search queries or chat lines. */
const SENTENCES = [
  'The meeting moved to Thursday.',
  'Where is the nearest train station?',
  'Peers share idle compute.',
  'Reset my password, please.',
  'The invoice is overdue again.',
  'Embeddings place similar texts close together.',
  'Battery drains fast after the update.',
  'Dinner at eight sounds good.',
  'Upload failed with a timeout.',
  'The quick brown fox jumps.',
  'Send the report by Friday.',
  'Which model runs on a laptop?',
  'The cat sleeps on the sofa.',
  'Prices rose three percent this year.',
  'Please translate this into German.',
  'Results are signed by the provider.',
  'How do I cancel my order?',
  'The garden needs more water.',
  'Tasks are queued by priority.',
  'Call me when you land.',
  'Our build broke on Monday.',
  'Rain is expected tomorrow morning.',
  'The library closes at six.',
  'Nodes find each other on the network.',
]

/** Batch sizes and output encodings measured; `float` is the default a caller gets. */
const VARIANTS = [
  { batch: 16, encoding: 'float', calls: 20 },
  { batch: 64, encoding: 'float', calls: 12 },
  { batch: 64, encoding: 'base64', calls: 12 },
] as const
type Variant = (typeof VARIANTS)[number]

function embedBackend(modelDir: string) {
  // Defaults otherwise, as a node would run it: hosted in the engine's worker pool.
  return onnxBackend({ builtinModels: false, models: [{ name: MODEL, path: modelDir }] })
}

function nodeInit(dataDir: string, modelDir: string) {
  return {
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    backends: [embedBackend(modelDir)],
  }
}

// ---- the provider (child process) -----------------------------------------------------------

async function serveProvider(): Promise<void> {
  const node = await createNode(nodeInit(process.env[DATA_ENV]!, process.env[MODEL_ENV]!))
  process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    void node.stop().finally(() => process.exit(0))
  })
}

if (process.env[ROLE_ENV] === 'provider') await serveProvider()

// ---- the requester --------------------------------------------------------------------------

interface State {
  root: string
  node: P2PNode
  provider: ChildProcess
  peerId: string
  quick: boolean
}

interface Run {
  ms: number
  /** The provider's own time, receiving the request to building the result, from the signed result. */
  providerMs?: number
  outputBytes: number
}

function batchOf(n: number, offset: number): string[] {
  return Array.from({ length: n }, (_, i) => SENTENCES[(offset + i) % SENTENCES.length]!)
}

async function embed(state: State, target: string, texts: string[], encoding: string): Promise<Run> {
  const t0 = performance.now()
  const record = await state.node
    .submit({ type: 'embed', input: { model: MODEL, texts, encoding } }, { target })
    .result()
  const ms = performance.now() - t0
  if (record.status !== 'COMPLETED') throw new Error(`embed ${record.status}: ${record.error?.message}`)
  const expected = target === 'local' ? state.node.peerId : target
  if (record.peer !== expected) throw new Error(`embed ran on ${record.peer}, not ${expected}`)
  const run: Run = { ms, outputBytes: Buffer.byteLength(JSON.stringify(record.output)) }
  if (target !== 'local' && record.timings !== undefined) run.providerMs = record.timings.totalMs
  return run
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

async function startProvider(root: string, modelDir: string) {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      [ROLE_ENV]: 'provider',
      [MODEL_ENV]: modelDir,
      [DATA_ENV]: join(root, 'provider'),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const info = JSON.parse(await lineReader(proc.stdout!, 'remote provider', 60_000)()) as {
    address: string
    peerId: string
  }
  return { proc, info }
}

async function stopProvider(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = once(proc, 'exit')
  proc.stdin!.end()
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

function variantCase(state: State, v: Variant): BenchCase {
  const name = `embed ${v.batch}${v.encoding === 'float' ? '' : ` ${v.encoding}`}`
  return measure(
    name,
    async ({ quick, round }) => {
      const calls = quick ? 2 : v.calls
      const local: Run[] = []
      const remote: Run[] = []
      for (let i = 0; i < calls; i++) {
        const texts = batchOf(v.batch, (round + 10) * 7 + i * 5)
        // Alternate which goes first, so drift in the machine's load falls on both sides alike.
        if (i % 2 === 0) {
          local.push(await embed(state, 'local', texts, v.encoding))
          remote.push(await embed(state, state.peerId, texts, v.encoding))
        } else {
          remote.push(await embed(state, state.peerId, texts, v.encoding))
          local.push(await embed(state, 'local', texts, v.encoding))
        }
      }
      const localP50 = percentile(
        local.map((r) => r.ms),
        50,
      )
      const remoteP50 = percentile(
        remote.map((r) => r.ms),
        50,
      )
      const providerMs = remote.flatMap((r) => (r.providerMs === undefined ? [] : [r.providerMs]))
      return {
        localP50Ms: localP50,
        localP99Ms: percentile(
          local.map((r) => r.ms),
          99,
        ),
        remoteP50Ms: remoteP50,
        remoteP99Ms: percentile(
          remote.map((r) => r.ms),
          99,
        ),
        overheadMs: remoteP50 - localP50,
        overheadPct: (100 * (remoteP50 - localP50)) / localP50,
        // The same batch back to back: less sensitive to load drift than the difference of p50s.
        pairedOverheadMs: percentile(
          remote.map((r, i) => r.ms - local[i]!.ms),
          50,
        ),
        // What the remote call costs outside the provider's engine: signing, verifying, framing,
        // the two hops over loopback and JSON of the output, per call, p50.
        ...(providerMs.length === remote.length
          ? {
              providerP50Ms: percentile(providerMs, 50),
              outsideProviderP50Ms: percentile(
                remote.map((r, i) => r.ms - providerMs[i]!),
                50,
              ),
            }
          : {}),
        outputKb: remote[0]!.outputBytes / 1024,
      }
    },
    {
      rounds: 5,
      warmupRounds: 1,
      units: { outputKb: 'KiB' },
      description: `${v.calls} local + ${v.calls} remote calls per round, alternating; ${v.batch} sentences of 4–7 words, ${v.encoding} output; p99 of ${v.calls} samples is close to the max`,
    },
  )
}

export default defineSuite<State>({
  name: 'remote',
  description: 'embed batches (MiniLM-sized synthetic model) run locally vs on a peer in a child process',
  setup: async ({ quick }) => {
    const root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-remote-'))
    const modelDir = join(root, MODEL)
    const words = [...new Set(SENTENCES.join(' ').toLowerCase().split(/\W+/).filter(Boolean))]
    // --quick is a smoke test: one transformer layer instead of six keeps it fast.
    await writeSyntheticBertModel(modelDir, { ...MINILM_SHAPE, ...(quick ? { layers: 1 } : {}), words })
    let provider: ChildProcess | undefined
    let node: P2PNode | undefined
    try {
      const started = await startProvider(root, modelDir)
      provider = started.proc
      node = await createNode(nodeInit(join(root, 'requester'), modelDir))
      await node.connect(started.info.address)
      const peerId = started.info.peerId
      const deadline = Date.now() + 20_000
      while (
        !node.peers().some((p) => p.peerId === peerId && p.capabilities?.taskTypes.includes('embed') === true)
      ) {
        if (Date.now() > deadline) throw new Error('no embed capability from the provider')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      const state: State = { root, node, provider, peerId, quick }
      // Loads the model in both workers: session creation is not part of any case.
      await embed(state, 'local', batchOf(4, 0), 'float')
      await embed(state, peerId, batchOf(4, 0), 'float')
      return state
    } catch (err) {
      await node?.stop().catch(() => {})
      if (provider !== undefined) await stopProvider(provider)
      await rm(root, { recursive: true, force: true })
      throw err
    }
  },
  teardown: async (state) => {
    await state.node.stop().catch(() => {})
    await stopProvider(state.provider)
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => VARIANTS.map((v) => variantCase(state, v)),
})
