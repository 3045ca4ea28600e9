/**
 * A chaos run: a real workload across node processes while faults are injected by a seeded plan;
 * then the evidence is gathered (what the clients were told, what the APIs say now, the stores,
 * the processes, the memory) and judged against the invariants.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, REQUESTER } from './cluster.js'
import {
  MEMORY_GROWTH_BYTES,
  MEMORY_GROWTH_FRACTION,
  MESH_TIMEOUT_MS,
  NODE_EXIT_TIMEOUT_MS,
} from './constants.js'
import type { AuditEntry } from './driver/protocol.js'
import { ChaosHarnessError } from './errors.js'
import { type FaultContext, type FaultRecord, inject, type ProviderKill } from './faults.js'
import {
  checkCrashes,
  checkMemory,
  checkStores,
  checkTasks,
  type MemorySample,
  percentile,
  type Violation,
} from './invariants.js'
import { Ledger } from './ledger.js'
import { type ChaosInit, settleOptions } from './options.js'
import { FAULT_KINDS, type FaultKind, planFaults } from './plan.js'
import { type ChaosReport, countViolations } from './report.js'
import { integrityCheck, storeFiles } from './stores.js'

/**
 * Runs the cluster, the workload and the faults; resolves with the report (`ok` when every
 * invariant held). Rejects only when the harness itself cannot do its job (`ERR_CHAOS_HARNESS`,
 * `ERR_INVALID_CHAOS_OPTION`, or the test hosts are unavailable): a finding about the nodes is a
 * violation in the report, never an exception.
 */
export async function runChaos(init: ChaosInit = {}): Promise<ChaosReport> {
  const o = settleOptions(init)
  const t0 = Date.now()
  const dir = await mkdtemp(join(o.workDir ?? tmpdir(), 'p2p-ai-chaos-'))
  const ledger = new Ledger()
  const violations: Violation[] = []
  const faults: FaultRecord[] = []
  const kills: ProviderKill[] = []
  const requesterRestarts: number[] = []
  const audits = new Map<string, AuditEntry>()
  let cluster: Cluster | undefined
  let faultWindowMs = 0
  let memory: MemorySample[] = []
  let stores: Array<{ path: string; result: string }> = []
  /** Waits `ms`, or less when the run is aborted. */
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        o.signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      o.signal?.addEventListener('abort', done, { once: true })
    })
  try {
    cluster = await Cluster.create(dir, o, (node, event) => ledger.record(node, event))
    const c = cluster
    const plan = planFaults({
      seed: o.seed,
      durationMs: o.durationMs,
      ...(o.maxFaults === undefined ? {} : { maxFaults: o.maxFaults }),
      kinds: o.kinds,
      requester: REQUESTER,
      providers: c.providers.map((p) => p.name),
      gapMs: o.gapMs,
      holdMs: o.holdMs,
    })
    o.log(
      `${c.nodes.length} nodes on ${o.testnet ? 'test hosts' : '127.0.0.1'}; ${plan.length} faults planned (seed ${o.seed})`,
    )
    await c.startAll()
    await meshed(c, sleep)
    o.log(`nodes up and meshed after ${Date.now() - t0} ms; workload of ${o.clients} clients`)

    const requester = c.driver(REQUESTER)
    await requester.request({ cmd: 'workload', clients: o.clients, seed: o.seed, latencyMs: o.taskLatencyMs })
    await sleep(o.warmupMs)
    const start = await rssOf(c)

    const restarting = new Map<string, Promise<void>>()
    const ctx: FaultContext = { cluster: c, t0, sleep, kills, requesterRestarts, violations, restarting }
    const firstFault = Date.now()
    const aborted = (): boolean => o.signal?.aborted === true
    for (const fault of plan) {
      if (aborted()) break
      await sleep(fault.gapMs)
      if (aborted()) break
      const record = await inject(fault, ctx)
      faults.push(record)
      o.log(`#${record.n} ${record.kind} ${record.target}: ${record.note}`)
    }
    // Every node back up (a restart that failed fails the run here).
    await Promise.all(restarting.values())
    faultWindowMs = Date.now() - firstFault

    // Settle: no new work; what was acknowledged has this long to end.
    await Promise.all(c.drivers.map((d) => d.request({ cmd: 'pause' })))
    const settleBy = Date.now() + o.settleMs
    while (ledger.pending().length > 0 && Date.now() < settleBy && !aborted()) await sleep(100)
    await Promise.all(c.drivers.map((d) => d.request({ cmd: 'halt' })))
    o.log(`settled: ${ledger.acks.size} acknowledged, ${ledger.pending().length} not seen final`)

    // What each API says now of everything it acknowledged.
    for (const d of c.drivers) {
      const ids = ledger.ackedBy(d.name)
      if (ids.length === 0) continue
      const answer = await d.request({ cmd: 'audit', ids }, 120_000)
      for (const entry of answer.entries as AuditEntry[]) audits.set(entry.id, entry)
    }
    const end = await rssOf(c)
    memory = c.nodes
      .filter((n) => n.restarts === 0 && n.crashes.length === 0 && start.has(n.name) && end.has(n.name))
      .map((n) => ({ node: n.name, startRssBytes: start.get(n.name)!, endRssBytes: end.get(n.name)! }))

    // A graceful stop of everyone, as `node stop` does it.
    await Promise.all(
      c.nodes.map(async (n) => {
        n.expectExit()
        await c
          .driver(n.name)
          .request({ cmd: 'shutdown' })
          .catch(() => {})
        if (!(await n.exited(NODE_EXIT_TIMEOUT_MS))) {
          violations.push({
            kind: 'stop',
            detail: `${n.name} did not exit within ${NODE_EXIT_TIMEOUT_MS} ms of node stop at the end`,
          })
          await n.kill()
        } else if (n.exitStatus?.code !== 0) {
          violations.push({
            kind: 'stop',
            detail: `${n.name} exited ${n.exitStatus?.code ?? n.exitStatus?.signal} after node stop at the end`,
          })
        }
        if (existsSync(join(n.dataDir, 'node.pid'))) {
          violations.push({ kind: 'left-behind', detail: `${n.name} left its node.pid after a clean exit` })
        }
      }),
    )
    await Promise.all(c.drivers.map((d) => d.close()))
    for (const { name, pid } of c.pids()) {
      if (alive(pid))
        violations.push({ kind: 'left-behind', detail: `${name}: pid ${pid} still runs after the run` })
    }
    stores = c.nodes.flatMap((n) =>
      storeFiles(n.dataDir).map((path) => ({ path, result: integrityCheck(path) })),
    )
  } finally {
    await cluster?.dispose()
  }

  violations.push(
    ...checkTasks({
      acks: ledger.acks,
      finals: ledger.finals,
      missing: ledger.missing,
      audits,
      refusals: ledger.refusals,
    }),
    ...checkStores(stores),
    ...checkCrashes(cluster?.nodes.flatMap((n) => n.crashes) ?? []),
    ...checkMemory(memory, { fraction: MEMORY_GROWTH_FRACTION, bytes: MEMORY_GROWTH_BYTES }),
  )
  const recoveries = kills.flatMap((k) =>
    k.ids.flatMap((id) => {
      const final = ledger.finals.get(id)
      return final?.status === 'COMPLETED' &&
        final.verified &&
        final.finishedAt !== undefined &&
        final.finishedAt > k.at
        ? [final.finishedAt - k.at]
        : []
    }),
  )
  const failed: Record<string, number> = {}
  let completed = 0
  for (const a of audits.values()) {
    if (a.status === 'COMPLETED' && a.verified === true) completed++
    else if (a.status !== undefined && a.code !== undefined) failed[a.code] = (failed[a.code] ?? 0) + 1
  }
  const faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>
  for (const f of faults) faultCounts[f.kind]++
  const ok = violations.length === 0 && o.signal?.aborted !== true
  const keep = o.keep || !ok
  if (!keep) await rm(dir, { recursive: true, force: true })
  const p50 = percentile(recoveries, 50)
  const p99 = percentile(recoveries, 99)
  return {
    ok,
    seed: o.seed,
    environment: o.testnet ? 'testnet' : 'loopback',
    nodes: o.providers + 1,
    clients: o.clients,
    wallMs: Date.now() - t0,
    faultWindowMs,
    tasks: {
      acknowledged: ledger.acks.size,
      completed,
      failed,
      resumed: [...ledger.finals.values()].filter((f) => (f.resumed ?? 0) > 0).length,
      fills: [...ledger.acks.values()].filter((a) => a.fill).length,
    },
    faults,
    faultCounts,
    lost: countViolations(violations, 'lost'),
    missing: countViolations(violations, 'missing'),
    stuck: countViolations(violations, 'stuck'),
    recovery: {
      samples: recoveries.length,
      ...(p50 === undefined ? {} : { p50Ms: p50 }),
      ...(p99 === undefined ? {} : { p99Ms: p99 }),
      ...(recoveries.length === 0 ? {} : { maxMs: Math.max(...recoveries) }),
    },
    requesterRestartMs: requesterRestarts,
    stores,
    memory,
    violations,
    ...(keep ? { workDir: dir } : {}),
  }
}

/** Waits until the requester sees every provider connected and offering `mock`. */
async function meshed(c: Cluster, sleep: (ms: number) => Promise<void>): Promise<void> {
  const want = c.providers.map((p) => p.peerId)
  const deadline = Date.now() + MESH_TIMEOUT_MS
  for (;;) {
    const status = await c.driver(REQUESTER).request({ cmd: 'status' })
    const have = status.mockPeers as string[]
    if (want.every((id) => have.includes(id))) return
    if (Date.now() > deadline) {
      throw new ChaosHarnessError(
        `the requester saw ${have.length} of ${want.length} providers within ${MESH_TIMEOUT_MS} ms`,
      )
    }
    await sleep(250)
  }
}

/** Resident memory of every node that runs, by name. */
async function rssOf(c: Cluster): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  await Promise.all(
    c.nodes.map(async (n) => {
      if (!n.running) return
      const status = await c.driver(n.name).request({ cmd: 'status' })
      out.set(n.name, status.rssBytes as number)
    }),
  )
  return out
}

/** Whether a process runs (one that exited and waits to be reaped does not count). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}
