/**
 * Jobs across node processes on this machine (issue 17, the product documents' F3.1): a requester
 * node in this process runs `node.jobs` over a file, the providers are nodes in child processes on
 * 127.0.0.1.
 *
 * - `chunk+map 100 MB, 10 nodes`: a 100 MB text file split like the `chunk` task (2,000
 *   characters a piece) and each piece mapped by `mock` on 10 providers; time, throughput and the
 *   requester's peak RSS. The documents ask for under 30 s.
 * - `stream 1 GB`: the same over a 1 GB file; the requester's peak RSS must stay under 300 MB.
 * - `scaling`: N = 1, 2, 5, 10 providers, each in its own cgroup limited to 10 % of one CPU
 *   (`cpu-quota.ts`: cgroup v1 `cpu.cfs_quota_us` or v2 `cpu.max`; root), running CPU-bound `work`
 *   items (a fixed count of SHA-256 rounds); job throughput at N against N × the throughput at N = 1 (aim: ≥ 80 % at 10).
 * - `embed docs/s`: a JSONL file of sentences, one `embed` item each, on 2 providers serving a
 *   synthetic model the size of all-MiniLM-L6-v2 (nothing downloaded); docs per second and per
 *   CPU-second of every process (the documents ask 1,000 docs/s network-wide); and the same
 *   sentences 32 to an item (`{"texts": [...]}` per line), the way to that rate.
 *
 * The same file is the provider: run with `P2P_AI_BENCH_JOBS_ROLE=provider`.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { mockBackend } from '@p2p-ai/engine'
import { createNode, type JobSubmission, type P2PNode } from '@p2p-ai/node'
import { MINILM_SHAPE, onnxBackend, writeSyntheticBertModel } from '@p2p-ai/onnx'
import { answerCpu, askCpu, lineReader } from '../child-lines.js'
import { type CpuQuotas, cpuQuotas } from '../cpu-quota.js'
import { defineSuite, measure } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_JOBS_ROLE'
const INIT_ENV = 'P2P_AI_BENCH_JOBS_INIT'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const MODEL = 'minilm'
const MB = 1024 * 1024
/** Piece size of the split cases, in characters. */
const PIECE = 2000
/** CPU share of each provider in `scaling`: 10 % of one CPU. */
const QUOTA_US = 10_000
const PERIOD_US = 100_000
/** SHA-256 rounds per `scaling` item: the same CPU work for every item, however the process is throttled. */
const WORK_ROUNDS = 20_000

interface ProviderInit {
  readonly dataDir: string
  /** `work`: the custom task of the same name (fixed CPU per item), no backend. */
  readonly backend: 'mock' | 'embed' | 'work'
  readonly modelDir?: string
  readonly concurrency: number
}

/**
 * `work`: `rounds` chained SHA-256 hashes, yielding every 1,000. Unlike the mock's `cpuMs` (busy
 * for a wall-clock time, which a throttled process spends partly waiting), a fixed amount of CPU.
 */
const WORK_TASK = {
  name: 'work',
  description: 'chained SHA-256 rounds: a fixed amount of CPU work',
  input: {
    '~standard': {
      version: 1 as const,
      vendor: 'p2p-ai-bench',
      validate: (value: unknown) => {
        const rounds = (value as { rounds?: unknown } | null)?.rounds
        return typeof rounds === 'number' &&
          Number.isSafeInteger(rounds) &&
          rounds > 0 &&
          rounds <= 10_000_000
          ? { value: value as { rounds: number } }
          : { issues: [{ message: 'rounds: expected an integer from 1 to 10,000,000' }] }
      },
    },
  },
  async run({ rounds }: { rounds: number }, { signal }: { signal: AbortSignal }) {
    let digest = Buffer.alloc(32)
    for (let i = 0; i < rounds; i++) {
      digest = createHash('sha256').update(digest).digest()
      if (i % 1000 === 999) {
        await new Promise((resolve) => setImmediate(resolve))
        signal.throwIfAborted()
      }
    }
    return { digest: digest.toString('hex') }
  },
}

// ---- a provider (child process) --------------------------------------------------------------

async function serveProvider(): Promise<void> {
  const init = JSON.parse(process.env[INIT_ENV]!) as ProviderInit
  const backends =
    init.backend === 'mock'
      ? [mockBackend({ worker: false })]
      : init.backend === 'embed'
        ? [onnxBackend({ builtinModels: false, models: [{ name: MODEL, path: init.modelDir! }] })]
        : []
  const node = await createNode({
    dataDir: init.dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    engine: { concurrency: init.concurrency },
    backends,
  })
  if (init.backend === 'work') node.registerTask(WORK_TASK)
  process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  answerCpu()
}

if (process.env[ROLE_ENV] === 'provider') await serveProvider()

// ---- the requester ---------------------------------------------------------------------------

interface Provider {
  readonly proc: ChildProcess
  readonly address: string
  readonly peerId: string
  readonly nextLine: () => Promise<string>
}

async function startProvider(init: ProviderInit, cgroup?: string): Promise<Provider> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_ENV]: 'provider', [INIT_ENV]: JSON.stringify(init) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  // Into its cgroup before it has done much: every thread of the process follows.
  if (cgroup !== undefined) writeFileSync(join(cgroup, 'cgroup.procs'), String(proc.pid))
  const nextLine = lineReader(proc.stdout!, 'jobs provider', 60_000)
  const info = JSON.parse(await nextLine()) as { address: string; peerId: string }
  return { proc, ...info, nextLine }
}

async function stopProvider(p: Provider): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return
  const exited = once(p.proc, 'exit')
  p.proc.stdin!.end()
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** A requester that runs nothing itself, connected to `providers` and knowing what they run. */
async function requester(dataDir: string, providers: readonly Provider[], type: string): Promise<P2PNode> {
  const node = await createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    // Enough in flight for 10 providers with their queues.
    jobs: { maxInFlight: 512 },
  })
  try {
    await Promise.all(providers.map((p) => node.connect(p.address)))
    const deadline = Date.now() + 30_000
    const ready = (): boolean =>
      providers.every((p) =>
        node.peers().some((x) => x.peerId === p.peerId && x.capabilities?.taskTypes.includes(type) === true),
      )
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`the providers did not announce ${type}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return node
  } catch (err) {
    await node.stop()
    throw err
  }
}

/** Runs a job to its end; its time, items and this process's peak RSS meanwhile (sampled every 50 ms). */
async function runJob(
  node: P2PNode,
  submission: JobSubmission,
): Promise<{ seconds: number; items: number; failed: number; peakRssMb: number }> {
  globalThis.gc?.()
  // `rss()` alone: the full `memoryUsage()` walks every heap space, 20 times a second.
  let peak = process.memoryUsage.rss()
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 50)
  const t0 = performance.now()
  try {
    const record = await node.jobs.submit(submission).done()
    const seconds = (performance.now() - t0) / 1000
    if (record.status !== 'COMPLETED') throw new Error(`job ${record.status}: ${record.error?.message}`)
    return {
      seconds,
      items: record.items.done + record.items.failed,
      failed: record.items.failed,
      peakRssMb: peak / MB,
    }
  } finally {
    clearInterval(sampler)
  }
}

/** A text file of `bytes` bytes: paragraphs of plain sentences, written as a stream. */
async function writeText(path: string, bytes: number): Promise<void> {
  const sentence =
    'Peers on the network share idle compute with each other. Each task is signed by its requester and its result by the provider. '
  const paragraph = `${sentence.repeat(6)}\n\n`
  const block = paragraph.repeat(Math.ceil(MB / paragraph.length)).slice(0, MB)
  const out = createWriteStream(path)
  for (let written = 0; written < bytes; written += block.length) {
    const piece = block.slice(0, Math.min(block.length, bytes - written))
    if (!out.write(piece)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

/** Texts per item in the batched `embed` case: the `embed` task's own batch size. */
const EMBED_TEXTS_PER_ITEM = 32

const SENTENCES = [
  'The meeting moved to Thursday.',
  'Where is the nearest train station?',
  'Peers share idle compute.',
  'Embeddings place similar texts close together.',
  'Battery drains fast after the update.',
  'Upload failed with a timeout.',
  'Which model runs on a laptop?',
  'Results are signed by the provider.',
]

interface State {
  root: string
  quick: boolean
  /** Ten mock providers, shared by the two split cases; stopped with the suite, whichever cases ran. */
  mockProviders: Provider[]
}

export default defineSuite<State>({
  name: 'jobs',
  description:
    'node.jobs across node processes: a split 100 MB file on 10 nodes, a 1 GB stream, scaling under CPU quotas, embed docs/s',
  setup: async ({ quick }) => ({
    root: await mkdtemp(join(tmpdir(), 'p2p-ai-bench-jobs-')),
    quick,
    mockProviders: [],
  }),
  teardown: async (state) => {
    // Here rather than in a case's teardown: with --filter, the case that would stop them may not run.
    await Promise.all(state.mockProviders.map(stopProvider))
    state.mockProviders = []
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => {
    const splitCase = (
      name: string,
      fullBytes: number,
      quickBytes: number,
      description: string,
      options: Parameters<typeof measure>[2],
    ) => {
      const file = join(state.root, `${name.replace(/\W+/g, '-')}.txt`)
      return measure(
        name,
        async ({ quick, round }) => {
          const bytes = quick ? quickBytes : fullBytes
          const node = await requester(
            join(state.root, `requester-${name.length}-${round}`),
            state.mockProviders,
            'mock',
          )
          const output = join(state.root, `out-${round}-${Date.now()}.jsonl`)
          try {
            const r = await runJob(node, {
              type: 'mock',
              input: file,
              split: { kind: 'chunk', size: PIECE, overlap: 0 },
              output,
              order: 'completed',
              allowLocal: false,
            })
            return {
              seconds: r.seconds,
              mbPerSec: bytes / MB / r.seconds,
              itemsPerSec: r.items / r.seconds,
              items: r.items,
              peakRssMb: r.peakRssMb,
            }
          } finally {
            await node.stop()
            await rm(output, { force: true })
          }
        },
        {
          ...options,
          description,
          setup: async () => {
            await writeText(file, state.quick ? quickBytes : fullBytes)
            if (state.mockProviders.length === 0) {
              state.mockProviders = await Promise.all(
                Array.from({ length: 10 }, (_, i) =>
                  startProvider({ dataDir: join(state.root, `mock-${i}`), backend: 'mock', concurrency: 2 }),
                ),
              )
            }
          },
          teardown: async () => {
            await rm(file, { force: true })
          },
        },
      )
    }
    return [
      splitCase(
        'chunk+map 100 MB, 10 nodes',
        100 * MB,
        4 * MB,
        '100 MB of text split in 2,000-character pieces, each mapped by mock on one of 10 provider processes (--quick: 4 MB)',
        {
          rounds: 3,
          warmupRounds: 0,
          targets: [{ metric: 'seconds', atMost: 30, source: 'product documents F3.1' }],
        },
      ),
      splitCase(
        'stream 1 GB',
        1024 * MB,
        16 * MB,
        'the same over a 1 GB file: the requester streams it, its RSS stays bounded (--quick: 16 MB)',
        {
          rounds: 1,
          warmupRounds: 0,
          targets: [{ metric: 'peakRssMb', atMost: 300, source: 'issue 17' }],
        },
      ),
      scalingCase(state),
      embedCase(state, 1),
      embedCase(state, EMBED_TEXTS_PER_ITEM),
    ]
  },
})

function scalingCase(state: State) {
  const counts = [1, 2, 5, 10] as const
  let cgroups: CpuQuotas | undefined
  let providers: Provider[] = []
  return measure(
    'scaling',
    async ({ quick, round }) => {
      const perSec: Record<number, number> = {}
      const throttled0 = cgroups?.throttledPeriods() ?? 0
      for (const n of counts) {
        const node = await requester(join(state.root, `scaling-${round}-${n}`), providers.slice(0, n), 'work')
        try {
          const perProvider = quick ? 4 : 40
          const items = Array.from({ length: perProvider * n }, () => ({ rounds: WORK_ROUNDS }))
          const input = join(state.root, `scaling-${round}-${n}.jsonl`)
          await writeFile(input, `${items.map((i) => JSON.stringify(i)).join('\n')}\n`)
          const r = await runJob(node, {
            type: 'work',
            input,
            output: `${input}.out`,
            order: 'completed',
            allowLocal: false,
          })
          perSec[n] = r.items / r.seconds
        } finally {
          await node.stop()
        }
      }
      const one = perSec[1]!
      // Quotas that never throttled anyone would make this a measurement of unlimited processes.
      const throttled = (cgroups?.throttledPeriods() ?? 0) - throttled0
      if (throttled === 0)
        throw new Error('the providers were never throttled: their CPU quota did not apply')
      return {
        itemsPerSec1: one,
        itemsPerSec2: perSec[2]!,
        itemsPerSec5: perSec[5]!,
        itemsPerSec10: perSec[10]!,
        efficiency2Pct: (100 * perSec[2]!) / (2 * one),
        efficiency5Pct: (100 * perSec[5]!) / (5 * one),
        efficiency10Pct: (100 * perSec[10]!) / (10 * one),
        throttledPeriods: throttled,
      }
    },
    {
      rounds: 3,
      warmupRounds: 0,
      units: {
        itemsPerSec1: 'items/s',
        itemsPerSec2: 'items/s',
        itemsPerSec5: 'items/s',
        itemsPerSec10: 'items/s',
        throttledPeriods: 'periods',
      },
      description: `N = 1, 2, 5, 10 providers, each in a cgroup of ${QUOTA_US / 1000} ms CPU per ${PERIOD_US / 1000} ms (10 % of a CPU; cgroup v1 cpu.cfs_quota_us or v2 cpu.max, root), items of ${WORK_ROUNDS.toLocaleString('en-US')} SHA-256 rounds, 40 per provider (--quick: 4); efficiency = throughput at N ÷ (N × throughput at 1)`,
      targets: [{ metric: 'efficiency10Pct', atLeast: 80, source: 'issue 17' }],
      setup: async () => {
        cgroups = cpuQuotas(10, QUOTA_US, PERIOD_US)
        providers = await Promise.all(
          cgroups.paths.map((cgroup, i) =>
            startProvider(
              { dataDir: join(state.root, `quota-${i}`), backend: 'work', concurrency: 1 },
              cgroup,
            ),
          ),
        )
      },
      teardown: async () => {
        await Promise.all(providers.map(stopProvider))
        providers = []
        cgroups?.remove()
      },
    },
  )
}

/**
 * `embed` docs per second over a job of `perItem` texts per item: 1 (a line per document, each
 * paying a signed request and result) or a batch (`{"texts": [...]}` per line, which the model
 * runs as one padded batch).
 */
function embedCase(state: State, perItem: number) {
  let providers: Provider[] = []
  const label = perItem === 1 ? 'embed docs/s' : `embed docs/s, ${perItem} texts per item`
  return measure(
    label,
    async ({ quick, round }) => {
      const docs = quick ? 64 : 4000
      const input = join(state.root, `embed-${perItem}-${round}.jsonl`)
      const sentences = Array.from({ length: docs }, (_, i) => `${SENTENCES[i % SENTENCES.length]} (${i})`)
      const lines: string[] = []
      for (let i = 0; i < docs; i += perItem) {
        const batch = sentences.slice(i, i + perItem)
        lines.push(JSON.stringify(perItem === 1 ? batch[0] : { texts: batch }))
      }
      await writeFile(input, `${lines.join('\n')}\n`)
      const node = await requester(
        join(state.root, `embed-requester-${perItem}-${round}`),
        providers,
        'embed',
      )
      try {
        for (const p of providers) await askCpu(p.proc.stdin!, p.nextLine)
        const cpu0 = process.cpuUsage()
        const r = await runJob(node, {
          type: 'embed',
          input,
          params: { model: MODEL },
          output: `${input}.out`,
          order: 'completed',
          allowLocal: false,
        })
        const own = process.cpuUsage(cpu0)
        let cpuUs = own.user + own.system
        for (const p of providers) cpuUs += await askCpu(p.proc.stdin!, p.nextLine)
        if (r.failed > 0) throw new Error(`${r.failed} embed items failed`)
        return { docsPerSec: docs / r.seconds, docsPerCpuSec: docs / (cpuUs / 1e6), seconds: r.seconds }
      } finally {
        await node.stop()
      }
    },
    {
      rounds: 3,
      warmupRounds: 0,
      units: { docsPerCpuSec: 'docs/CPU-s' },
      description:
        perItem === 1
          ? '4,000 sentences (--quick: 64), one embed item each, on 2 provider processes serving a MiniLM-sized synthetic model (6 layers; --quick: 1); CPU of all three processes'
          : `the same 4,000 sentences (--quick: 64) as items of ${perItem} texts (\`{"texts": [...]}\` per line), which the model runs as one batch; CPU of all three processes`,
      targets: [{ metric: 'docsPerSec', atLeast: 1000, source: 'product documents (network-wide)' }],
      setup: async () => {
        const quick = state.quick
        const modelDir = join(state.root, MODEL)
        const words = [...new Set(SENTENCES.join(' ').toLowerCase().split(/\W+/).filter(Boolean))]
        await writeSyntheticBertModel(modelDir, { ...MINILM_SHAPE, ...(quick ? { layers: 1 } : {}), words })
        providers = await Promise.all(
          [0, 1].map((i) =>
            startProvider({
              dataDir: join(state.root, `embed-${perItem}-${i}`),
              backend: 'embed',
              modelDir,
              concurrency: 1,
            }),
          ),
        )
      },
      teardown: async () => {
        await Promise.all(providers.map(stopProvider))
        providers = []
      },
    },
  )
}
