/**
 * Resource monitoring and a contributor's limits (issue 14):
 *
 * - the monitor's own cost: CPU time per reading of the real machine (CPU times, memory, load, the
 *   data directory's file system), per walk of a data directory, per battery reading, and per tick
 *   of the CPU limit's duty cycle; from these, its CPU at the default cadence (a reading every 5 s,
 *   a walk every minute, the battery every 30 s, ten ticks a second while a CPU limit is set), as a
 *   share of one core. Target: under 1 % (the product documents).
 * - the CPU limit under full load: a node (createNode, its engine's worker pool) kept busy with
 *   more CPU-bound tasks than it may run, for 30 s; its process's CPU over that window, as a share
 *   of the whole machine, against `limits.cpu`. Target: within 5 points (issue 14). Once with
 *   tasks that spin in worker threads (the engine's slots and duty cycle), once with real ONNX
 *   Runtime inference (`embed` on a MiniLM-sized synthetic model: intra-op threads too).
 * - how fast a peer hears of a pause: from the reading that shows the owner back to the peer's
 *   directory saying so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Backend, resultStore } from '@p2p-ai/engine'
import {
  createNode,
  type NodeInit,
  type P2PNode,
  type RawSample,
  type Sampler,
  systemSampler,
} from '@p2p-ai/node'
import { MINILM_SHAPE, onnxBackend, writeSyntheticBertModel } from '@p2p-ai/onnx'
import { defineSuite, type Measurements, measure } from '../runner.js'

/** A backend a worker can import without TypeScript: `spin` burns `ms` of one core. */
const SPIN_BACKEND = `
const input = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } }
export function spin(init) {
  return {
    name: 'spin',
    taskTypes: [{ name: 'spin', input }],
    worker: { module: import.meta.url, export: 'spin', init },
    async load() {},
    async run(task) {
      const until = performance.now() + task.input.ms
      while (performance.now() < until) {}
      return null
    },
    async unload() {},
  }
}
`

/** The window the CPU limit is judged over (issue 14: 30 s). */
const WINDOW_MS = 30_000

interface State {
  dir: string
  spinModule: string
  modelDir: string
  quick: boolean
}

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Busy and total CPU milliseconds of all cores since boot. */
function machineCpu(): { busy: number; total: number } {
  let busy = 0
  let total = 0
  for (const { times: t } of cpus()) {
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { busy, total }
}

/** CPU milliseconds `fn` takes per call, over `n` calls. */
async function cpuPerCall(n: number, fn: () => unknown): Promise<number> {
  const before = cpuMs()
  for (let i = 0; i < n; i++) await fn()
  return (cpuMs() - before) / n
}

/** A data directory like a node's after a while: a store with 2,000 results and 300 model files. */
async function dataDirLike(dir: string): Promise<void> {
  const store = resultStore({ directory: join(dir, 'store') })
  for (let i = 0; i < 2_000; i++) {
    store.put({
      id: `t${i}`,
      type: 'chunk',
      status: 'COMPLETED',
      priority: 5,
      backend: 'text',
      queuedAt: Date.now(),
      finishedAt: Date.now(),
      output: { text: 'x'.repeat(200) },
    })
  }
  store.close()
  for (let m = 0; m < 30; m++) {
    const model = join(dir, 'models', `model-${m}`)
    await mkdir(model, { recursive: true })
    for (let f = 0; f < 10; f++) writeFileSync(join(model, `part-${f}.bin`), Buffer.alloc(4096))
  }
}

async function monitorOverhead(dir: string, quick: boolean): Promise<Measurements> {
  const steady = systemSampler({ dataDir: dir })
  // Every reading due at once: the walk of the data directory and the battery with it.
  const full = systemSampler({ dataDir: dir, diskScanIntervalMs: 0, batteryIntervalMs: 0 })
  await steady.sample()
  await full.sample()
  const n = quick ? 20 : 200
  const readingMs = await cpuPerCall(n, () => steady.sample())
  const fullReadingMs = await cpuPerCall(quick ? 5 : 50, () => full.sample())
  const tickMs = await cpuPerCall(n * 50, () => process.cpuUsage())
  // A minute at the defaults: 12 readings, one of them walking the directory, two reading the battery.
  const perMinuteMs = 10 * readingMs + 2 * fullReadingMs
  const overheadPct = (perMinuteMs / 60_000) * 100
  const limitedOverheadPct = overheadPct + ((tickMs * 10) / 1_000) * 100
  return {
    readingUs: readingMs * 1000,
    fullReadingUs: fullReadingMs * 1000,
    tickUs: tickMs * 1000,
    overheadPct,
    limitedOverheadPct,
  }
}

/** A node on loopback, no mDNS, with `backends` and `limits.cpu` = `cpu`. */
function nodeInit(dir: string, cpu: number, backends: Backend[]): NodeInit {
  return {
    dataDir: dir,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engine: { concurrency: 4 },
    limits: { cpu },
    log: { level: 'silent' },
    backends,
  }
}

/**
 * Keeps `inFlight` tasks of `task` running on `node` (more than it may run at once), and measures
 * the process's CPU over `windowMs` after `warmupMs`: a share of the whole machine, in percent.
 */
async function underLoad(
  node: P2PNode,
  task: { type: string; input: Record<string, unknown> },
  inFlight: number,
  warmupMs: number,
  windowMs: number,
): Promise<{ cpuPct: number; othersPct: number; tasksPerSec: number }> {
  let stop = false
  let done = 0
  const worker = async (): Promise<void> => {
    while (!stop) {
      await node.submit(task, { target: 'local' }).result()
      done++
    }
  }
  const workers = Array.from({ length: inFlight }, worker)
  await new Promise((resolve) => setTimeout(resolve, warmupMs))
  const before = cpuMs()
  const machineBefore = machineCpu()
  const doneBefore = done
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, windowMs))
  const elapsed = performance.now() - t0
  const used = cpuMs() - before
  const machineAfter = machineCpu()
  const tasks = done - doneBefore
  stop = true
  await Promise.all(workers)
  const cpuPct = (used / (elapsed * availableParallelism())) * 100
  const machinePct =
    ((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * 100
  return { cpuPct, othersPct: Math.max(0, machinePct - cpuPct), tasksPerSec: (tasks / elapsed) * 1000 }
}

function cpuLimitCase(state: State, limit: number, kind: 'spin' | 'embed') {
  const name = kind === 'spin' ? `cpu limit ${limit} %, worker tasks` : `cpu limit ${limit} %, ONNX embed`
  return measure(
    name,
    async ({ round, warmup }) => {
      const dir = join(state.dir, `${kind}-${limit}-${warmup ? 'w' : ''}${round}`)
      const backends: Backend[] =
        kind === 'spin'
          ? [(await import(state.spinModule)).spin({})]
          : [onnxBackend({ models: [{ name: 'minilm', path: state.modelDir }], defaultEmbedModel: 'minilm' })]
      const node = await createNode(nodeInit(dir, limit, backends))
      try {
        const task =
          kind === 'spin'
            ? { type: 'spin', input: { ms: 50 } }
            : {
                type: 'embed',
                input: { texts: Array.from({ length: 8 }, (_, i) => `sentence number ${i} of a batch`) },
              }
        const windowMs = state.quick ? 3_000 : WINDOW_MS
        const { cpuPct, othersPct, tasksPerSec } = await underLoad(
          node,
          task,
          8,
          state.quick ? 500 : 3_000,
          windowMs,
        )
        return { cpuPct, deviationPts: Math.abs(cpuPct - limit), othersPct, tasksPerSec }
      } finally {
        await node.stop()
        await rm(dir, { recursive: true, force: true })
      }
    },
    {
      // The 50 % cases are the ones quoted; the others show the limit across its range.
      rounds: limit === 50 ? 3 : 2,
      warmupRounds: 0,
      units: { deviationPts: 'pts' },
      description: `${kind === 'spin' ? '50 ms CPU-bound tasks in the worker pool' : 'embed of 8 sentences on a MiniLM-sized synthetic model, ONNX Runtime'}, 8 in flight (engine.concurrency 4), limits.cpu ${limit}: the process's CPU over ${WINDOW_MS / 1000} s as a share of all ${availableParallelism()} cores`,
      // Judged on a machine the node has to itself: othersPct says how much other programs took.
      targets: limit === 100 ? [] : [{ metric: 'deviationPts', atMost: 5, source: 'issue 14' }],
    },
  )
}

/** A machine whose owner the bench sends away or back. */
class Owner implements Sampler {
  others = 0
  #at = 0
  #busy = 0
  #total = 0
  async sample(): Promise<RawSample> {
    this.#at += 1_000
    this.#total += 4_000
    this.#busy += 4_000 * this.others
    return {
      at: this.#at,
      machineCpu: { busyMs: this.#busy, totalMs: this.#total },
      processCpuMs: 0,
      cores: 4,
      memory: { totalBytes: 8 * 1024 ** 3, availableBytes: 4 * 1024 ** 3, rssBytes: 0 },
      loadAverage: [0, 0, 0],
      disk: undefined,
      battery: undefined,
      batterySupport: 'unsupported',
    }
  }
}

async function pauseAnnounced(dir: string): Promise<Measurements> {
  const owner = new Owner()
  const init = (sub: string): NodeInit => ({
    dataDir: join(dir, sub),
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    resources: { intervalMs: 60_000 },
    log: { level: 'silent' },
  })
  const [requester, provider] = await Promise.all([
    createNode(init('requester')),
    createNode({ ...init('provider'), limits: { idleOnly: true, idleAfterMs: 0 }, resourceSampler: owner }),
  ])
  try {
    await provider.resources.measure()
    await provider.resources.measure()
    await requester.connect(provider.getMultiaddrs()[0]!)
    // Resources reach a peer once each knows the other's protocol minor (both announced).
    const seen = (paused: boolean): boolean => {
      const resources = requester.peer(provider.peerId)?.capabilities?.resources
      return resources !== undefined && (resources.paused === true) === paused
    }
    const wait = async (paused: boolean): Promise<void> => {
      const t0 = performance.now()
      while (!seen(paused)) {
        if (performance.now() - t0 > 10_000) throw new Error('the peer never heard of it')
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
    await wait(false)
    owner.others = 0.9
    let t0 = performance.now()
    await provider.resources.measure()
    await wait(true)
    const pauseMs = performance.now() - t0
    owner.others = 0
    t0 = performance.now()
    await provider.resources.measure()
    await wait(false)
    return { pauseMs, resumeMs: performance.now() - t0 }
  } finally {
    await Promise.all([requester.stop(), provider.stop()])
  }
}

export default defineSuite<State>({
  name: 'resources',
  description: "resource monitoring's cost, the CPU limit under full load, how fast peers hear of a pause",
  setup: async ({ quick }) => {
    const dir = mkdtempSync(join(tmpdir(), 'p2p-ai-bench-resources-'))
    const spinPath = join(dir, 'spin-backend.mjs')
    writeFileSync(spinPath, SPIN_BACKEND)
    await dataDirLike(join(dir, 'data'))
    const modelDir = join(dir, 'minilm')
    await writeSyntheticBertModel(modelDir, quick ? { ...MINILM_SHAPE, layers: 1 } : MINILM_SHAPE)
    return { dir, spinModule: pathToFileURL(spinPath).href, modelDir, quick }
  },
  teardown: (state) => {
    rmSync(state.dir, { recursive: true, force: true })
  },
  cases: (state) => [
    measure('monitor overhead', ({ quick }) => monitorOverhead(join(state.dir, 'data'), quick), {
      rounds: 5,
      units: { readingUs: 'µs', fullReadingUs: 'µs', tickUs: 'µs' },
      description:
        "CPU per reading of the real machine (steady, and with the data directory walk and the battery due), per duty-cycle tick; overhead at the default cadence as % of one core (limited: with a CPU limit's ticks)",
      targets: [
        { metric: 'overheadPct', atMost: 1, source: 'product documents' },
        { metric: 'limitedOverheadPct', atMost: 1, source: 'product documents' },
      ],
    }),
    cpuLimitCase(state, 100, 'spin'),
    cpuLimitCase(state, 50, 'spin'),
    cpuLimitCase(state, 25, 'spin'),
    cpuLimitCase(state, 75, 'spin'),
    // A limit low enough to be met on a shared machine, where the higher ones may be starved.
    cpuLimitCase(state, 10, 'spin'),
    cpuLimitCase(state, 50, 'embed'),
    cpuLimitCase(state, 10, 'embed'),
    measure(
      'pause announced to a peer',
      ({ round, warmup }) => pauseAnnounced(join(state.dir, `pause-${warmup ? 'w' : ''}${round}`)),
      {
        rounds: 5,
        description:
          "two nodes on loopback: from the provider reading its owner back (idle-only) to the requester's directory showing it paused, and back",
        targets: [{ metric: 'pauseMs', atMost: 1_000, source: 'issue 14: peers learn it at once' }],
      },
    ),
  ],
})
