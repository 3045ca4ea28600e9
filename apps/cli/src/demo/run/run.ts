/**
 * `demo run` (what `npm run demo` runs) from start to end: start, discover, send tasks (killing
 * an agent mid-run), recap the failover, stop, sum up. Every claim the narration makes comes from
 * the nodes' own records, and the report's `ok` is true only when each of them held.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { P2PNode } from '@p2p-ai/node'
import type { Io } from '../../io.js'
import { duration, listing } from '../../term/format.js'
import { MOCK_LATENCY_MS, STOP_TIMEOUT_MS } from '../constants.js'
import { buildModel, registerModel } from '../model.js'
import { serviceTagFor } from '../nodes.js'
import { type Verifier, verifier } from '../verify.js'
import { failoverTask, planTasks } from '../workload.js'
import type { AgentProcess } from './agent.js'
import { awaitAgents, discover, modelLine } from './discovery.js'
import { failoverProblem, failoverReport, narrateFailover, noFailover } from './failover.js'
import type { Narrator } from './narrate.js'
import { spawnAgents, startRequester } from './network.js'
import type { DemoOptions } from './options.js'
import type { AgentReport, DemoReport, DiscoveryReport, TaskReport } from './report.js'
import { runTasks, type TaskRun } from './sending.js'
import { narrateSummary, narrateVerdict, summarize } from './summary.js'

const NO_DISCOVERY: DiscoveryReport = {
  complete: false,
  connections: 0,
  expectedConnections: 0,
  meshMs: null,
  pairs: [],
}

/** Runs the demo; resolves with its report (`ok` says whether everything happened). Rejects only when `signal` aborts. */
export async function runDemo(options: DemoOptions, say: Narrator, io: Io): Promise<DemoReport> {
  const signal = io.signal
  const t0 = Date.now()
  const failures: string[] = []
  const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-demo-'))
  let agents: AgentProcess[] = []
  let requester: Promise<P2PNode> | undefined
  let node: P2PNode | undefined
  let check: Verifier | undefined
  let discovery = NO_DISCOVERY
  let run: TaskRun | undefined
  let failover = noFailover(options.failover)
  const ends = new Map<string, AgentReport['end']>()
  let stopTracking = (): void => {}

  say.banner('P2P AI Agents: demo', [
    `${options.nodes} agent${options.nodes === 1 ? '' : 's'} on this machine (127.0.0.1 only), ${options.tasks} task${options.tasks === 1 ? '' : 's'} (${options.types.join(', ')})${options.failover ? ', one agent killed mid-run' : ''}.`,
  ])
  try {
    say.step(`Starting ${options.nodes} agent${options.nodes === 1 ? '' : 's'} and a requester`, [
      'Each agent is a separate process running a full p2p-ai node: its own Ed25519 identity, a',
      'libp2p host listening on 127.0.0.1, and a task engine with AI backends: mock inference, text',
      'chunking, embeddings on a small model built locally, OCR on the PaddleOCR v4 model.',
    ])
    const model = await buildModel(dir)
    say.ok(modelLine(model.parameters, model.ms))
    const serviceTag = serviceTagFor(process.pid)
    await Promise.all(
      Array.from({ length: options.nodes }, (_, i) => registerModel(join(dir, `agent-${i + 1}`), model)),
    )
    agents = spawnAgents(io, dir, options.nodes, serviceTag)
    requester = startRequester(dir, serviceTag, signal)
    const plan = planTasks(options.types, options.tasks)
    // Neither may reject unobserved while the agents start.
    plan.catch(() => {})
    requester.catch(() => {})
    // It listens once createNode resolves: that is its ready time, however long the agents take.
    const requesterReady = requester.then((n) => ({ node: n, at: Date.now() }))
    // Awaited only once every agent is up: an agent failing first must not leave it unobserved.
    requesterReady.catch(() => {})
    const started = await awaitAgents(agents, requesterReady, say, signal)
    node = started.node

    say.step('Discovering peers', [
      'Nobody was told where the others are: each node announces itself by mDNS on the loopback',
      'interface and dials the peers it hears. Every connection is encrypted (Noise) and proves the',
      'Ed25519 identity at both ends, so no node can pass for another. Then each agent announces what it runs.',
    ])
    const found = await discover(agents, node, started, options.types, say, signal)
    discovery = found.report
    stopTracking = found.stopTracking
    if (!discovery.complete) throw new Failure('discovery did not complete: not every node found every other')

    const planned = await plan
    const trigger = options.failover ? failoverTask(planned) : undefined
    say.step(`Sending ${options.tasks} task${options.tasks === 1 ? '' : 's'}`, [
      'The requester signs each task and hands it to its task exchange, which picks a capable agent by',
      'free capacity, latency and track record. The result comes back signed by the agent that ran',
      'it; the exchange accepts it only if that signature and the digest of our request check out, and',
      'this demo then checks the output itself (recomputing it, or comparing with the text it drew).',
      ...(trigger === undefined
        ? []
        : [
            `Midway, the agent that starts task #${trigger.number} (mock: ${MOCK_LATENCY_MS / 1000} s of simulated inference) is killed with SIGKILL`,
            'the moment it starts it, so it dies in the middle of real work.',
          ]),
    ])
    check = verifier(model.path)
    const noticed = new Map<string, number>()
    node.addEventListener('peer:failed', (evt) => {
      if (!noticed.has(evt.detail.peer.peerId)) noticed.set(evt.detail.peer.peerId, Date.now())
    })
    run = await runTasks({
      plan: planned,
      node,
      agents,
      graph: found.graph,
      verifier: check,
      failover: options.failover,
      say,
      signal,
    })
    for (const t of run.tasks)
      if (!taskOk(t)) failures.push(`task #${t.number} (${t.type}) ${taskProblem(t)}`)

    if (options.failover) {
      say.step('Failover', [
        'A killed process sends no goodbye: its TCP connections just close. The requester notices when',
        'they do and sends the task to another capable agent; the peers drop the dead one from their tables.',
      ])
      const victim = run.kill?.victim.peerId
      failover = await failoverReport(run, agents, victim === undefined ? undefined : noticed.get(victim))
      if (run.kill !== undefined) ends.set(run.kill.victim.name, 'killed by the failover')
      narrateFailover(say, failover)
      if (!failover.observed) failures.push(`failover not observed: ${failoverProblem(failover)}`)
    }

    for (const agent of agents) {
      if (!agent.running && !ends.has(agent.name)) {
        ends.set(agent.name, 'crashed')
        failures.push(
          `${agent.name} exited unexpectedly (${agent.exit?.signal ?? `code ${agent.exit?.code}`})`,
        )
      }
    }
    say.step('Stopping', [
      'Each agent stops gracefully: it says goodbye, so its peers drop it at once instead of waiting',
      'for a timeout, finishes what it runs, and closes its result store.',
    ])
    await stopAll(agents, node, ends, say)
    await rm(dir, { recursive: true, force: true })
    say.ok(`removed the temporary data (${dir})`)
  } catch (err) {
    if (signal.aborted) throw err
    const message = (err as Error).message
    failures.push(message)
    if (!(err instanceof Failure)) say.fail(message)
  } finally {
    stopTracking()
    // Whatever happened above, nothing is left running or on disk.
    for (const agent of agents) {
      if (agent.running && !ends.has(agent.name)) ends.set(agent.name, 'killed after an error')
      agent.kill()
    }
    await Promise.all(agents.map((a) => a.exited))
    node ??= await requester?.catch(() => undefined)
    await node?.stop().catch(() => {})
    await check?.close().catch(() => {})
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }

  const agentReports = agents.map((a): AgentReport => agentReport(a, ends, run?.tasks ?? []))
  const tasks = run?.tasks ?? []
  const summary = summarize(agentReports, discovery, tasks, options)
  if (run !== undefined && tasks.length < options.tasks) failures.push('not every task was sent')
  const durationMs = Date.now() - t0
  say.step('Summary', [])
  narrateSummary(say, summary, discovery, failover, durationMs)
  narrateVerdict(say, failures)
  return {
    ok: failures.length === 0,
    failures,
    options,
    dataDir: dir,
    durationMs,
    requester: { peerId: node?.peerId ?? null },
    agents: agentReports,
    discovery,
    tasks,
    failover,
    summary,
  }
}

/** A step's expected outcome did not happen; already narrated where it was found. */
class Failure extends Error {}

function taskOk(t: TaskReport): boolean {
  return t.status === 'COMPLETED' && t.signed && t.outputChecked
}

function taskProblem(t: TaskReport): string {
  if (t.status !== 'COMPLETED')
    return `ended ${t.status}: ${t.error?.code ?? ''} ${t.error?.message ?? ''}`.trim()
  if (!t.signed) return 'was not run by an agent'
  return `output check failed: ${t.check}`
}

async function stopAll(
  agents: readonly AgentProcess[],
  node: P2PNode,
  ends: Map<string, AgentReport['end']>,
  say: Narrator,
): Promise<void> {
  const t0 = Date.now()
  // The requester first, so every agent is still there to acknowledge its goodbye.
  const report = await node.stop()
  const acks = report.peersNotified.length
  say.ok(`the requester stopped; ${acks} agent${acks === 1 ? '' : 's'} acknowledged its goodbye`)
  const live = agents.filter((a) => a.running)
  const stops = await Promise.all(live.map(async (a) => ({ agent: a, ...(await a.stop(STOP_TIMEOUT_MS)) })))
  const graceful = stops.filter((s) => s.graceful).map((s) => s.agent.name)
  const forced = stops.filter((s) => !s.graceful).map((s) => s.agent.name)
  for (const name of graceful) ends.set(name, 'stopped')
  for (const name of forced) ends.set(name, 'killed after the stop timeout')
  if (graceful.length > 0) say.ok(`${listing(graceful)} stopped gracefully in ${duration(Date.now() - t0)}`)
  if (forced.length > 0)
    say.fail(`${listing(forced)} did not stop within ${STOP_TIMEOUT_MS / 1000} s and were killed`)
}

function agentReport(
  a: AgentProcess,
  ends: ReadonlyMap<string, AgentReport['end']>,
  tasks: readonly TaskReport[],
): AgentReport {
  const ready = a.ready
  return {
    name: a.name,
    pid: a.pid ?? null,
    peerId: ready?.peerId ?? null,
    address: ready?.addresses[0] ?? null,
    startMs: ready === undefined ? null : ready.at - a.spawnedAt,
    end: ends.get(a.name) ?? (a.running ? 'running' : 'crashed'),
    tasksCompleted: tasks.filter((t) => t.ranOn === a.name && taskOk(t)).length,
  }
}
