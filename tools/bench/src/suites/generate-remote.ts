/**
 * Text generation streamed from a peer against the same generation here (issue 13): the same
 * synthetic GGUF model (26M parameters, Q8_0, as in the `generate` suite: built at setup, nothing
 * downloaded) and the same prompt, submitted by one node with `target: 'local'` and with
 * `target: <PeerId>` to a node in a child process, alternating, in one run. Both llama.cpp
 * instances compute with one thread, so neither side takes the other's core.
 *
 * Measured as the requester sees it, through `handle.stream()`: time to first token (submit to
 * the first delta), tokens/s from the first delta to the end, and CPU per streamed token on each
 * side (the requester's process, and for remote runs the provider's). Then cancelling: from
 * `handle.cancel()` to the model's slot being free again, on the peer and here.
 *
 * Targets: remote tokens/s ≥ 95 % of local; time to first token remote − local ≤ 5 ms on
 * loopback; a cancelled generation's slot free within 200 ms.
 *
 * The same file is the provider: run with `P2P_AI_BENCH_GENERATE_ROLE=provider`, it serves the
 * model at `P2P_AI_BENCH_GENERATE_MODEL` and answers `cpu` (CPU µs since the last ask) and `idle`
 * (the wall-clock time its model's slots were all free again) on stdin.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type GenerateOutput, type LlamaBackend, llamaBackend, writeSyntheticLlamaModel } from '@p2p-ai/llama'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { askCpu, lineReader } from '../child-lines.js'
import { defineSuite, type Measurements, measure } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_GENERATE_ROLE'
const MODEL_ENV = 'P2P_AI_BENCH_GENERATE_MODEL'
const DATA_ENV = 'P2P_AI_BENCH_GENERATE_DATA'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const MODEL = 'small'
const PROMPT = 'Once upon a time'

/** The `generate` suite's small model: it never ends on its own, so every run writes `maxTokens`. */
const SHAPE = {
  embeddingLength: 512,
  blockCount: 8,
  headCount: 8,
  headCountKv: 4,
  feedForwardLength: 1536,
  contextLength: 4096,
  tensorType: 'Q8_0',
  endless: true,
} as const

/** Wall-clock milliseconds, comparable between processes on one machine (µs resolution). */
const wallMs = (): number => performance.timeOrigin + performance.now()

function nodeInit(dataDir: string, llama: LlamaBackend) {
  return {
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    backends: [llama],
  }
}

function llamaFor(model: string): LlamaBackend {
  return llamaBackend({ models: [{ name: MODEL, path: model }], threads: 1, idleUnloadMs: 0 })
}

// ---- the provider (child process) -----------------------------------------------------------

async function serveProvider(): Promise<void> {
  const llama = llamaFor(process.env[MODEL_ENV]!)
  const node = await createNode(nodeInit(process.env[DATA_ENV]!, llama))
  await llama.load()
  process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  let last = process.cpuUsage()
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'cpu') {
      const used = process.cpuUsage(last)
      last = process.cpuUsage()
      process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system })}\n`)
    } else if (line === 'idle') {
      // Polled every millisecond: the slot is free when the backend gave its sequence back.
      const poll = setInterval(() => {
        if (llama.loadedModels().every((m) => m.activeTasks === 0)) {
          clearInterval(poll)
          process.stdout.write(`${JSON.stringify({ idleAt: wallMs() })}\n`)
        }
      }, 1)
    }
  })
  process.stdin.on('end', () => {
    void node.stop().finally(() => process.exit(0))
  })
}

if (process.env[ROLE_ENV] === 'provider') await serveProvider()

// ---- the requester --------------------------------------------------------------------------

interface State {
  root: string
  node: P2PNode
  llama: LlamaBackend
  provider: ChildProcess
  next: () => Promise<string>
  peerId: string
}

interface Run {
  ttftMs: number
  tokensPerSec: number
  tokens: number
  /** CPU of this process, and of the provider's for a remote run, per generated token. */
  requesterCpuMsPerToken: number
  providerCpuMsPerToken?: number
}

async function generate(state: State, target: string, maxTokens: number): Promise<Run> {
  const remote = target !== 'local'
  if (remote) await askCpu(state.provider.stdin!, state.next)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const handle = state.node.submit<GenerateOutput>(
    { type: 'generate', input: { model: MODEL, prompt: PROMPT, maxTokens } },
    { target },
  )
  let first: number | undefined
  for await (const event of handle.stream()) {
    if (event.type === 'delta') first ??= performance.now()
    else throw new Error(`unexpected ${event.type} in the stream`)
  }
  const end = performance.now()
  const used = process.cpuUsage(cpu)
  const output = await handle.output()
  const expected = remote ? target : state.node.peerId
  if (handle.record().peer !== expected) throw new Error(`ran on ${handle.record().peer}, not ${expected}`)
  const tokens = output.usage.completionTokens
  if (first === undefined || tokens !== maxTokens)
    throw new Error(`generated ${tokens} of ${maxTokens} tokens`)
  const run: Run = {
    ttftMs: first - t0,
    tokensPerSec: ((tokens - 1) * 1000) / (end - first),
    tokens,
    requesterCpuMsPerToken: (used.user + used.system) / 1000 / tokens,
  }
  if (remote) run.providerCpuMsPerToken = (await askCpu(state.provider.stdin!, state.next)) / 1000 / tokens
  return run
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function sideBySide(state: State, quick: boolean): Promise<Measurements> {
  const maxTokens = quick ? 16 : 128
  const pairs = quick ? 1 : 3
  const local: Run[] = []
  const remote: Run[] = []
  for (let i = 0; i < pairs; i++) {
    // Alternate which goes first, so drift in the machine's load falls on both alike.
    if (i % 2 === 0) {
      local.push(await generate(state, 'local', maxTokens))
      remote.push(await generate(state, state.peerId, maxTokens))
    } else {
      remote.push(await generate(state, state.peerId, maxTokens))
      local.push(await generate(state, 'local', maxTokens))
    }
  }
  const m = (runs: Run[], key: keyof Run) => median(runs.map((r) => r[key] ?? 0))
  return {
    localTtftMs: m(local, 'ttftMs'),
    remoteTtftMs: m(remote, 'ttftMs'),
    // Paired: each remote run against the local run next to it.
    ttftDiffMs: median(remote.map((r, i) => r.ttftMs - local[i]!.ttftMs)),
    localTokensPerSec: m(local, 'tokensPerSec'),
    remoteTokensPerSec: m(remote, 'tokensPerSec'),
    remoteToLocalTokensPct: median(remote.map((r, i) => (100 * r.tokensPerSec) / local[i]!.tokensPerSec)),
    localCpuMsPerToken: m(local, 'requesterCpuMsPerToken'),
    remoteRequesterCpuMsPerToken: m(remote, 'requesterCpuMsPerToken'),
    remoteProviderCpuMsPerToken: m(remote, 'providerCpuMsPerToken'),
    tokens: maxTokens,
  }
}

/** Cancels a generation once it streams, and times until its model's slot is free again. */
async function cancelRound(state: State, target: string): Promise<Measurements> {
  const handle = state.node.submit(
    { type: 'generate', input: { model: MODEL, prompt: PROMPT, maxTokens: 4000 } },
    { target },
  )
  const stream = handle.stream()
  await stream.next()
  let freeAt: Promise<number>
  if (target === 'local') {
    freeAt = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (state.llama.loadedModels().every((m) => m.activeTasks === 0)) {
          clearInterval(poll)
          resolve(wallMs())
        }
      }, 1)
    })
  } else {
    state.provider.stdin!.write('idle\n')
    freeAt = state.next().then((line) => (JSON.parse(line) as { idleAt: number }).idleAt)
  }
  const cancelledAt = wallMs()
  handle.cancel()
  const free = await freeAt
  await stream.return?.()
  if ((await handle.result()).status !== 'CANCELLED') throw new Error('the generation was not cancelled')
  return { cancelToFreeMs: free - cancelledAt }
}

async function startProvider(root: string, model: string) {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_ENV]: 'provider', [MODEL_ENV]: model, [DATA_ENV]: join(root, 'provider') },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const next = lineReader(proc.stdout!, 'generate provider', 60_000)
  const info = JSON.parse(await next()) as { address: string; peerId: string }
  return { proc, next, info }
}

async function stopProvider(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = once(proc, 'exit')
  proc.stdin!.end()
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

export default defineSuite<State>({
  name: 'generate-remote',
  description:
    'generate streamed from a peer (child process) vs here, same model and prompt; cancel to free slot',
  setup: async ({ quick }) => {
    const root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-generate-remote-'))
    const model = join(root, `${MODEL}.gguf`)
    // --quick is a smoke test: two blocks instead of eight.
    await writeSyntheticLlamaModel(model, quick ? { ...SHAPE, blockCount: 2 } : SHAPE)
    let provider: Awaited<ReturnType<typeof startProvider>> | undefined
    let node: P2PNode | undefined
    try {
      provider = await startProvider(root, model)
      const llama = llamaFor(model)
      node = await createNode(nodeInit(join(root, 'requester'), llama))
      await llama.load()
      await node.connect(provider.info.address)
      const { peerId } = provider.info
      const deadline = Date.now() + 20_000
      while (
        !node.peers().some((p) => p.peerId === peerId && p.capabilities?.models.some((x) => x.id === MODEL))
      ) {
        if (Date.now() > deadline) throw new Error('the provider did not announce the model')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      const state: State = { root, node, llama, provider: provider.proc, next: provider.next, peerId }
      // Loads the model on both sides: loading is not part of any case.
      await generate(state, 'local', 2)
      await generate(state, peerId, 2)
      return state
    } catch (err) {
      await node?.stop().catch(() => {})
      if (provider !== undefined) await stopProvider(provider.proc)
      await rm(root, { recursive: true, force: true })
      throw err
    }
  },
  teardown: async (state) => {
    await state.node.stop().catch(() => {})
    await stopProvider(state.provider)
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => [
    measure('local vs peer, 128 tokens', ({ quick }) => sideBySide(state, quick), {
      description:
        '3 local + 3 remote generations per round, alternating; as the requester sees them through handle.stream()',
      units: {
        tokens: 'tokens',
        localCpuMsPerToken: 'ms',
        remoteRequesterCpuMsPerToken: 'ms',
        remoteProviderCpuMsPerToken: 'ms',
      },
      targets: [
        { metric: 'remoteToLocalTokensPct', atLeast: 95, source: 'issue 13' },
        { metric: 'ttftDiffMs', atMost: 5, source: 'issue 13' },
      ],
    }),
    measure('cancel on the peer → slot free', () => cancelRound(state, state.peerId), {
      description:
        "handle.cancel() once the generation streams → the provider's llama slot is free (wall clock across processes)",
      targets: [{ metric: 'cancelToFreeMs', atMost: 200, source: 'issue 13' }],
    }),
    measure('cancel here → slot free', () => cancelRound(state, 'local'), {
      description: 'the same with target local',
      targets: [{ metric: 'cancelToFreeMs', atMost: 200, source: 'issue 13' }],
    }),
  ],
})
