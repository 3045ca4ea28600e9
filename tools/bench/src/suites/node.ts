import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { createNode, loadConfig, type NodeInit, type P2PNode, resolveNodeConfig } from '@p2p-ai/node'
import { lineReader } from '../child-lines.js'
import { CLI_BIN } from '../repo-paths.js'
import { defineSuite, measure } from '../runner.js'

// Nodes stay on 127.0.0.1; mDNS runs only on loopback with a service tag unique to this run.
const SERVICE_TAG = `_p2p-ai-bench-${process.pid}._udp.local`

function localInit(dataDir: string, extra: NodeInit = {}): NodeInit {
  return {
    dataDir,
    ...extra,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false }, ...extra.network },
  }
}

/** The agent-host fixture of @p2p-ai/node: one node per process, JSON-lines events on stdout. */
const AGENT_HOST = join(
  dirname(createRequire(import.meta.url).resolve('@p2p-ai/node/package.json')),
  'test/fixtures/agent-host.mjs',
)

interface Host {
  proc: ChildProcess
  spawnedAt: number
  /** Resolves with the first event of this name (and its arrival time, `performance.now()`). */
  next(event: string, timeoutMs?: number): Promise<{ data: Record<string, unknown>; at: number }>
  kill(): Promise<void>
}

function spawnHost(init: NodeInit): Host {
  const spawnedAt = performance.now()
  const proc = spawn(process.execPath, [AGENT_HOST, JSON.stringify(init)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const seen = new Map<string, { data: Record<string, unknown>; at: number }>()
  const waiting = new Map<string, Array<(e: { data: Record<string, unknown>; at: number }) => void>>()
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const at = performance.now()
    let data: Record<string, unknown>
    try {
      data = JSON.parse(line) as Record<string, unknown>
    } catch {
      return
    }
    const name = String(data.event)
    if (!seen.has(name)) seen.set(name, { data, at })
    for (const resolve of waiting.get(name) ?? []) resolve({ data, at })
    waiting.delete(name)
  })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  return {
    proc,
    spawnedAt,
    next: (event, timeoutMs = 30_000) => {
      const s = seen.get(event)
      if (s !== undefined) return Promise.resolve(s)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`agent host: no ${event} within ${timeoutMs} ms`)),
          timeoutMs,
        )
        const list = waiting.get(event) ?? []
        list.push((e) => {
          clearTimeout(timer)
          resolve(e)
        })
        waiting.set(event, list)
      })
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await exited
    },
  }
}

/** Resident set size of a process now and its peak so far (VmHWM), in MB, from /proc (Linux). */
function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => {
    const kb = Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1])
    if (!Number.isFinite(kb)) throw new Error(`no ${name} for pid ${pid}`)
    return kb / 1024
  }
  return { rssMb: field('VmRSS'), peakRssMb: field('VmHWM') }
}

/** CPU time (user + system, all threads) a process has used, in ms, from /proc (Linux, 100 Hz ticks). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command: utime and stime are the 12th and 13th, in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until a process's RSS stops moving: `window` consecutive samples `everyMs` apart within
 * 1 MB of each other (a node loads backends in the background after it says it is ready), or
 * `capMs`. Resolves with the time it took.
 */
async function settle(pid: number, everyMs: number, window: number, capMs: number): Promise<number> {
  const t0 = performance.now()
  const recent: number[] = []
  while (performance.now() - t0 < capMs) {
    recent.push(memoryOf(pid).rssMb)
    if (recent.length > window) recent.shift()
    if (recent.length === window && Math.max(...recent) - Math.min(...recent) <= 1) break
    await sleep(everyMs)
  }
  return performance.now() - t0
}

/**
 * `p2p-ai-agents node start` in the foreground, as a user runs it: every setting at its default
 * (no config file, a fresh data directory and HOME) but the listen addresses, TCP and WebSockets on
 * 127.0.0.1 (so mDNS runs on loopback only, with a service tag of this run's own).
 */
async function idleCliNode(home: string, quick: boolean) {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    NO_COLOR: '1',
    P2P_AI_NETWORK__MDNS__SERVICE_TAG: `cli-${SERVICE_TAG}`,
  }
  const dataDir = join(home, 'node')
  const proc = spawn(
    process.execPath,
    [
      CLI_BIN,
      'node',
      'start',
      '--data-dir',
      dataDir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--listen',
      '/ip4/127.0.0.1/tcp/0/ws',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000)
  })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve))
  try {
    const t0 = performance.now()
    const nextLine = lineReader(proc.stdout!, 'p2p-ai-agents node start', 60_000)
    const ready = async (): Promise<void> => {
      while (!(await nextLine()).includes('is running')) {}
    }
    await Promise.race([
      ready(),
      exited.then((code) => {
        throw new Error(`node start exited with ${code} before it was ready: ${stderr.trim()}`)
      }),
    ])
    const readyMs = performance.now() - t0
    const pid = proc.pid!
    const settleMs = await settle(pid, quick ? 250 : 500, quick ? 2 : 4, quick ? 5_000 : 30_000)
    // Idle CPU over a few seconds of doing nothing: heartbeats, mDNS, health checks, timers.
    const windowMs = quick ? 1_000 : 5_000
    const cpu0 = cpuMsOf(pid)
    const w0 = performance.now()
    await sleep(windowMs)
    const idleCpuPct = (100 * (cpuMsOf(pid) - cpu0)) / (performance.now() - w0)
    const { rssMb, peakRssMb } = memoryOf(pid)
    // What of it is V8's heap (live objects and garbage not yet collected), read after the RSS:
    // the rest is the node binary's pages, malloc's heaps and native modules.
    const heapUsedMb = (await cliStatus(dataDir, env)).process.heapUsedBytes / 2 ** 20
    return { rssMb, peakRssMb, heapUsedMb, readyMs, settleMs, idleCpuPct }
  } finally {
    // Ctrl-C: the foreground node stops gracefully; killed if it has not within 15 s.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
}

/** `p2p-ai-agents node status --json` of the node in `dataDir`. */
function cliStatus(dataDir: string, env: NodeJS.ProcessEnv): Promise<{ process: { heapUsedBytes: number } }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_BIN, 'node', 'status', '--json', '--data-dir', dataDir],
      { env, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`node status failed: ${stderr.trim() || err.message}`))
        else resolve(JSON.parse(stdout))
      },
    )
  })
}

/** In a fresh process: RSS after importing @p2p-ai/node, then per node for `count` idle nodes. */
async function marginalRss(
  dataDir: string,
  count: number,
  quick: boolean,
): Promise<{ importRssMb: number; perNodeRssMb: number }> {
  const script = `
    const { createNode } = await import('@p2p-ai/node')
    const settle = () => new Promise((r) => setTimeout(r, ${quick ? 100 : 1_000}))
    const rss = async () => { globalThis.gc(); await settle(); globalThis.gc(); return process.memoryUsage().rss }
    const before = await rss()
    const nodes = []
    for (let i = 0; i < ${count}; i++) {
      nodes.push(await createNode({ dataDir: ${JSON.stringify(dataDir)} + '/' + i,
        network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } } }))
    }
    const after = await rss()
    await Promise.all(nodes.map((n) => n.stop()))
    console.log(JSON.stringify({ before, after }))`
  const proc = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    cwd: dirname(createRequire(import.meta.url).resolve('@p2p-ai/node/package.json')),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  proc.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve))
  if (code !== 0) throw new Error(`RSS probe exited with ${code}`)
  const { before, after } = JSON.parse(out.trim().split('\n').at(-1)!) as { before: number; after: number }
  return { importRssMb: before / 2 ** 20, perNodeRssMb: (after - before) / count / 2 ** 20 }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

interface State {
  dir: string
  node: P2PNode
  configFile: string
}

/** A typical config file: a bit of everything, as a user would write it. */
const CONFIG_YAML = `dataDir: ./data
network:
  listen: ['/ip4/0.0.0.0/tcp/9000', '/ip4/0.0.0.0/tcp/9001/ws']
  bootstrap: ['/ip4/192.168.1.20/tcp/9000/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']
  maxConnections: 32
  mdns:
    enabled: true
    interface: lan
heartbeat:
  intervalMs: 10000
  timeoutMs: 3000
engine:
  concurrency: 4
log:
  level: info
`
const CONFIG_ENV = { HOME: '/home/bench', P2P_AI_LOG__LEVEL: 'debug', P2P_AI_NETWORK__MAX_CONNECTIONS: '16' }

export default defineSuite<State>({
  name: 'node',
  description:
    'p2p-ai node: metadata latency, createNode() to ACTIVE, process start to first connection, idle RSS and CPU',
  setup: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-node-'))
    const node = await createNode(localInit(join(dir, 'metadata')))
    const configFile = join(dir, 'config.yaml')
    await writeFile(configFile, CONFIG_YAML)
    return { dir, node, configFile }
  },
  teardown: async ({ dir, node }) => {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  },
  cases: ({ dir, node, configFile }) => [
    measure(
      'metadata()',
      ({ quick }) => {
        const calls = quick ? 1_000 : 100_000
        const samples = new Float64Array(calls)
        let sink = 0
        for (let i = 0; i < calls; i++) {
          const t0 = performance.now()
          sink += node.metadata().uptimeMs
          samples[i] = performance.now() - t0
        }
        if (sink < 0) throw new Error('unreachable')
        const sorted = [...samples].sort((a, b) => a - b)
        return {
          p50Us: percentile(sorted, 0.5) * 1000,
          p99Us: percentile(sorted, 0.99) * 1000,
          maxUs: sorted.at(-1)! * 1000,
        }
      },
      { rounds: 5 },
    ),
    measure(
      'loadConfig()',
      async ({ quick }) => {
        const calls = quick ? 20 : 500
        const load: number[] = []
        const validate: number[] = []
        const input = {
          network: { maxConnections: 8 },
          heartbeat: { intervalMs: 5_000 },
          log: { level: 'warn' as const },
        }
        for (let i = 0; i < calls; i++) {
          const t0 = performance.now()
          await loadConfig({ file: configFile, env: CONFIG_ENV })
          load.push(performance.now() - t0)
          const t1 = performance.now()
          resolveNodeConfig(input, { env: CONFIG_ENV })
          validate.push(performance.now() - t1)
        }
        load.sort((a, b) => a - b)
        validate.sort((a, b) => a - b)
        return {
          fileP50Ms: percentile(load, 0.5),
          fileP99Ms: percentile(load, 0.99),
          validateP50Us: percentile(validate, 0.5) * 1000,
          validateP99Us: percentile(validate, 0.99) * 1000,
        }
      },
      { rounds: 5 },
    ),
    measure(
      'createNode() to ACTIVE',
      async ({ round, warmup }) => {
        const dataDir = join(dir, `create-${warmup ? 'w' : ''}${round}`)
        const t0 = performance.now()
        const fresh = await createNode(localInit(dataDir))
        const firstMs = performance.now() - t0
        const stopStart = performance.now()
        const report = await fresh.stop()
        const stopMs = performance.now() - stopStart
        // Second start from the same data directory: the identity is loaded, not generated.
        const t1 = performance.now()
        const again = await createNode(localInit(dataDir))
        const restartMs = performance.now() - t1
        await again.stop()
        if (!report.withinDeadline) throw new Error('stop overran its deadline')
        return { firstStartMs: firstMs, restartMs, stopMs }
      },
      { rounds: 10 },
    ),
    measure(
      'process start to first connection',
      async ({ round, warmup }) => {
        const tag = `${warmup ? 'w' : ''}${round}`
        const a = spawnHost(localInit(join(dir, `proc-a-${tag}`)))
        let b: Host | undefined
        try {
          const imported = await a.next('imported')
          const ready = await a.next('ready')
          const aReadyMs = ready.at - a.spawnedAt
          const importMs = imported.at - a.spawnedAt
          const address = (ready.data.addresses as string[])[0]!
          // B finds A through its bootstrap list: the time a CLI user waits for a first peer.
          b = spawnHost(localInit(join(dir, `proc-b-${tag}`), { network: { bootstrap: [address] } }))
          const connected = await b.next('peer:connect')
          return { importMs, processReadyMs: aReadyMs, toFirstConnectionMs: connected.at - b.spawnedAt }
        } finally {
          await Promise.all([a.kill(), b?.kill()])
        }
      },
      { rounds: 5 },
    ),
    measure(
      'process start to first connection (mDNS)',
      async ({ round, warmup }) => {
        const tag = `${warmup ? 'w' : ''}${round}`
        const mdns = { enabled: true, interface: 'loopback', serviceTag: `${tag}${SERVICE_TAG}` }
        const a = spawnHost(localInit(join(dir, `mdns-a-${tag}`), { network: { mdns } }))
        const b = spawnHost(localInit(join(dir, `mdns-b-${tag}`), { network: { mdns } }))
        try {
          const [ca, cb] = await Promise.all([a.next('peer:connect'), b.next('peer:connect')])
          return { bothConnectedMs: Math.max(ca.at - a.spawnedAt, cb.at - b.spawnedAt) }
        } finally {
          await Promise.all([a.kill(), b.kill()])
        }
      },
      { rounds: 5 },
    ),
    measure(
      'idle RSS',
      async ({ round, warmup, quick }) => {
        const tag = `${warmup ? 'w' : ''}${round}`
        const host = spawnHost(localInit(join(dir, `rss-${tag}`)))
        let memory: { rssMb: number; peakRssMb: number }
        try {
          await host.next('ready')
          await sleep(quick ? 200 : 2_000)
          memory = memoryOf(host.proc.pid!)
        } finally {
          await host.kill()
        }
        // The marginal cost of more nodes, in a fresh process so earlier rounds' heap does not hide it.
        const count = quick ? 2 : 5
        const { importRssMb, perNodeRssMb } = await marginalRss(join(dir, `rss-many-${tag}`), count, quick)
        return { processRssMb: memory.rssMb, processPeakRssMb: memory.peakRssMb, importRssMb, perNodeRssMb }
      },
      {
        rounds: 3,
        description:
          'createNode() alone in a process (the agent-host fixture: no ONNX backend), 2 s after ready; then the cost of more nodes in one process',
      },
    ),
    measure(
      'idle node process (CLI node start)',
      async ({ round, warmup, quick }) => idleCliNode(join(dir, `cli-${warmup ? 'w' : ''}${round}`), quick),
      {
        rounds: 3,
        warmupRounds: 0,
        description:
          "`p2p-ai-agents node start` in the foreground with its defaults, listening on 127.0.0.1: RSS once it has settled, its peak, how much of it is V8's heap in use (from `node status`), and its idle CPU (% of one core)",
        targets: [
          { metric: 'rssMb', atMost: 80, source: 'issue 10' },
          { metric: 'rssMb', atMost: 100, source: 'product documents: idle agent' },
          { metric: 'idleCpuPct', atMost: 5, source: 'product documents: idle agent' },
        ],
      },
    ),
  ],
})
