/**
 * Step 3: send the tasks through the requester's task exchange, a few at a time, narrating each
 * verified result with its route; with failover on, SIGKILL the agent that starts the chosen
 * mock task, in the middle of it.
 */
import type { NetworkTaskRecord, P2PNode } from '@p2p-ai/node'
import { DemoStepTimeoutError } from '../../errors.js'
import { duration, listing } from '../../term/format.js'
import { NODE_CONCURRENCY, TASK_TIMEOUT_MS, TASKS_TIMEOUT_MS } from '../constants.js'
import type { Verifier } from '../verify.js'
import { failoverTask, type PlannedTask } from '../workload.js'
import type { AgentEvent, AgentProcess } from './agent.js'
import type { Narrator } from './narrate.js'
import type { PeerGraph } from './network.js'
import type { AttemptReport, TaskReport } from './report.js'

/** What the failover did at the moment of the kill. */
export interface Kill {
  readonly victim: AgentProcess
  readonly at: number
  /** Task numbers the victim had started and not finished. */
  readonly running: readonly number[]
  /** The task whose start set off the kill. */
  readonly trigger: number
}

export interface TaskRun {
  readonly tasks: TaskReport[]
  /** The requester's final record of each task, by number. */
  readonly records: ReadonlyMap<number, NetworkTaskRecord>
  /** When each agent accepted each task (a record lists failed attempts only), by number. */
  readonly accepts: ReadonlyMap<number, ReadonlyArray<{ readonly peer: string; readonly at: number }>>
  readonly startedAt: number
  readonly kill: Kill | undefined
  /** The task the failover waited for, if it was on. */
  readonly trigger: PlannedTask | undefined
}

export interface TaskRunInit {
  readonly plan: readonly PlannedTask[]
  readonly node: P2PNode
  readonly agents: readonly AgentProcess[]
  readonly graph: PeerGraph
  readonly verifier: Verifier
  readonly failover: boolean
  readonly say: Narrator
  readonly signal: AbortSignal
}

/** Friendlier words for the codes a failed attempt usually carries. */
const WHY: Readonly<Record<string, string>> = {
  ERR_PEER_DISCONNECTED: 'connection lost',
  ERR_PEER_UNRESPONSIVE: 'stopped answering',
  ERR_BUSY: 'busy',
  ERR_SHUTTING_DOWN: 'shutting down',
}

export function why(code: string): string {
  return WHY[code] ?? code
}

export async function runTasks(init: TaskRunInit): Promise<TaskRun> {
  const { plan, node, agents, say, signal } = init
  const runId = Math.random().toString(36).slice(2, 8)
  const idOf = (t: PlannedTask): string => `demo-${runId}-${t.number}`
  const byId = new Map(plan.map((t) => [idOf(t), t]))
  const trigger = init.failover ? failoverTask(plan) : undefined
  let kill: Kill | undefined

  // Which tasks each agent is running now, from its own engine's events.
  const running = new Map<AgentProcess, Set<number>>(agents.map((a) => [a, new Set()]))
  const offs = agents.map((agent) =>
    agent.onEvent((event: AgentEvent) => {
      if (event.event !== 'task:started' && event.event !== 'task:finished') return
      // A task the requester sent: the agent's engine knows it by the requester's id.
      const task = byId.get(event.meta?.taskId ?? event.id)
      if (task === undefined) return
      if (event.event === 'task:finished') {
        running.get(agent)?.delete(task.number)
        return
      }
      running.get(agent)?.add(task.number)
      if (trigger !== undefined && task === trigger && kill === undefined) {
        kill = {
          victim: agent,
          at: Date.now(),
          running: [...(running.get(agent) ?? [])].sort((a, b) => a - b),
          trigger: task.number,
        }
        agent.kill()
        say.event(
          say.paint.red('✖'),
          say.paint.red(
            `SIGKILL ${agent.name} (pid ${agent.pid}) while it runs ${listing(kill.running.map((n) => label(plan, n)))}: no goodbye, its connections just drop`,
          ),
        )
      }
    }),
  )

  const startedAt = Date.now()
  const width = Math.max(...plan.map((t) => t.label.length))
  const reports: TaskReport[] = new Array(plan.length)
  const records = new Map<number, NetworkTaskRecord>()
  const accepts = new Map<number, Array<{ peer: string; at: number }>>()
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(TASKS_TIMEOUT_MS)])
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const task = plan[next++]!
      deadline.throwIfAborted()
      const handle = node.submit(
        { id: idOf(task), type: task.type, input: task.input, timeoutMs: TASK_TIMEOUT_MS },
        { allowLocal: false, signal: deadline },
      )
      const accepted: Array<{ peer: string; at: number }> = []
      accepts.set(task.number, accepted)
      handle.addEventListener('status', (evt) => {
        const { status, peer } = evt.detail
        if (
          (status === 'QUEUED' || status === 'RUNNING') &&
          peer !== undefined &&
          accepted.at(-1)?.peer !== peer
        )
          accepted.push({ peer, at: Date.now() })
      })
      const record = await handle.result()
      records.set(task.number, record)
      const report = await toReport(task, record, init)
      reports[task.number - 1] = report
      narrateTask(say, report, width)
    }
  }
  // As many in flight as the agents have slots: the queue stays full without piling up.
  const lanes = Math.min(plan.length, agents.length * NODE_CONCURRENCY)
  try {
    await Promise.all(Array.from({ length: lanes }, worker))
  } catch (err) {
    if (signal.aborted) throw err
    throw new DemoStepTimeoutError(`the tasks did not finish within ${TASKS_TIMEOUT_MS / 1000} s`)
  } finally {
    for (const off of offs) off()
  }
  return { tasks: reports, records, accepts, startedAt, kill, trigger }
}

function label(plan: readonly PlannedTask[], n: number): string {
  return `#${n} ${plan[n - 1]?.type ?? ''}`
}

async function toReport(
  task: PlannedTask,
  record: NetworkTaskRecord,
  init: TaskRunInit,
): Promise<TaskReport> {
  const { graph, node } = init
  const completed = record.status === 'COMPLETED'
  const remote = record.peer !== undefined && record.peer !== node.peerId
  // A forwarded task names the neighbour it went to (`peer`) and the node that ran it (`provider`).
  const ranOn = record.provider ?? record.peer
  const forwarded = record.provider !== undefined && record.provider !== record.peer
  const check = completed
    ? await init.verifier.check(task, record.output)
    : { ok: false, detail: 'no output' }
  const attempts: AttemptReport[] = record.attempts.map((a) => ({
    ranOn: graph.name(a.peer),
    ...(a.error === undefined ? {} : { error: { code: a.error.code, message: a.error.message } }),
  }))
  return {
    number: task.number,
    type: task.type,
    label: task.label,
    status: record.status,
    ranOn: completed ? graph.name(ranOn) : null,
    // The record does not count the links of a forwarded route (at least 2); a direct one is 1.
    hops: record.peer === undefined || forwarded ? null : remote ? 1 : 0,
    ...(forwarded ? { via: graph.name(record.peer) } : {}),
    attempts,
    latencyMs: (record.finishedAt ?? Date.now()) - record.submittedAt,
    queuedMs: record.timings?.queuedMs ?? null,
    runMs: record.timings?.runMs ?? null,
    signed: completed && remote,
    outputChecked: check.ok,
    check: check.detail,
    ...(record.error === undefined
      ? {}
      : { error: { code: record.error.code, message: record.error.message } }),
  }
}

function narrateTask(say: Narrator, t: TaskReport, width: number): void {
  const p = say.paint
  const head = `#${String(t.number).padEnd(3)} ${t.type.padEnd(5)} ${t.label.padEnd(width)}`
  const failed = t.attempts.filter((a) => a.error !== undefined)
  const detours = failed.map((a) => `${a.ranOn} ${p.yellow(`✖ ${why(a.error!.code)}`)} ↻ `).join('')
  if (t.status === 'COMPLETED' && t.signed && t.outputChecked) {
    const hops = t.hops === null ? `via ${t.via ?? '?'}` : `${t.hops} hop${t.hops === 1 ? '' : 's'}`
    say.ok(
      `${head} → ${detours}${p.bold(t.ranOn ?? '?')}  ${hops}  ${duration(t.latencyMs).padStart(7)}  ${p.dim(t.check)}`,
    )
    return
  }
  const reason =
    t.status !== 'COMPLETED'
      ? `${t.status}: ${t.error?.code ?? ''} ${t.error?.message ?? ''}`
      : !t.signed
        ? 'ran on the requester itself, not on the network'
        : `output check failed: ${t.check}`
  say.fail(`${head} → ${detours}${t.ranOn ?? '—'}  ${p.red(reason)}`)
}
