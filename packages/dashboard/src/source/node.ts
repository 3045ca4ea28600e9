/**
 * The dashboard's view of a running `P2PNode`: its peer directory, alerts and state as they are,
 * and its events as they happen (peers coming and going, each attempt of a task as it starts, its
 * failovers, its end, the tasks it serves for peers, alerts). The node dispatches exchange events
 * only while someone listens: a node without a dashboard builds none.
 */
import type { NetworkTaskRecord, P2PNode } from '@p2p-ai/node'
import type { AlertView, AttemptView, FlowEvent, TaskDetailJson, TaskRow } from '../wire.js'
import type { DashboardSource, DashboardTasks, SelfInfo, SourceEvent } from './types.js'

export interface NodeSourceInit {
  readonly node: P2PNode
  /**
   * The node's tasks as the dashboard lists and submits them. The CLI gives its control API's
   * (which also lists the tasks this node ran for peers); `networkTaskDetail` turns the node's own
   * records into details.
   */
  readonly tasks: DashboardTasks
}

export function nodeSource(init: NodeSourceInit): DashboardSource {
  const { node } = init
  const self = node.peerId
  return {
    self(): SelfInfo {
      const m = node.metadata()
      const caps = node.engine.capabilities()
      return {
        peerId: m.peerId,
        state: m.state,
        version: m.version,
        agentVersion: m.agentVersion,
        addresses: m.addresses,
        startedAt: m.startedAt ?? 0,
        taskTypes: [...new Set(m.capabilities.taskTypes)],
        models: [...new Set(m.capabilities.models)],
        concurrency: caps.concurrency,
        load: { running: caps.running, queued: caps.queued },
      }
    },
    peers: () => node.peers(),
    alerts: () => node.alerts().map(alertView),
    subscribe(listener, signal) {
      const emit = (event: SourceEvent): void => listener(event)
      const flow = (f: FlowEvent): void => emit({ type: 'flow', flow: f })
      const topology = (): void => emit({ type: 'peers' })
      for (const name of ['peer:connect', 'peer:update', 'peer:failed', 'peer:remove'] as const) {
        node.addEventListener(name, topology, { signal })
      }
      for (const name of ['alert:raised', 'alert:cleared'] as const) {
        node.addEventListener(
          name,
          (e) => {
            const a = e.detail
            emit({
              type: 'alert',
              alert: {
                at: Date.now(),
                name: a.name,
                state: name === 'alert:raised' ? 'raised' : 'cleared',
                message: a.message,
                ...(a.value === undefined ? {} : { value: a.value }),
                threshold: a.threshold,
              },
            })
          },
          { signal },
        )
      }
      const exchange = node.exchange
      exchange.addEventListener(
        'task:attempt',
        (e) => {
          const { taskId, type, peer } = e.detail
          flow({ kind: 'sent', at: Date.now(), task: taskId, type, from: self, to: peer })
        },
        { signal },
      )
      exchange.addEventListener(
        'task:retry',
        (e) => {
          const r = e.detail
          if (!r.failover) return
          flow({
            kind: 'failover',
            at: Date.now(),
            task: r.taskId,
            type: r.type,
            from: r.from,
            to: r.to,
            code: r.code,
          })
        },
        { signal },
      )
      exchange.addEventListener(
        'task:done',
        (e) => {
          const r = e.detail.record
          const latency = r.finishedAt === undefined ? {} : { latencyMs: r.finishedAt - r.submittedAt }
          const from = r.peer ?? self
          if (r.status === 'COMPLETED') {
            flow({
              kind: 'answered',
              at: Date.now(),
              task: r.id,
              type: r.type,
              from,
              to: self,
              ...(r.provider === undefined ? {} : { provider: r.provider }),
              ...latency,
            })
          } else {
            flow({
              kind: 'failed',
              at: Date.now(),
              task: r.id,
              type: r.type,
              from,
              to: self,
              code: r.error?.code ?? r.status,
              ...latency,
            })
          }
        },
        { signal },
      )
      // The engine runs this node's own tasks too (`meta.requester` is then itself): only those of
      // peers are served.
      node.engine.addEventListener(
        'task:started',
        (e) => {
          const requester = e.detail.meta?.requester
          if (requester === undefined || requester === self) return
          const task = e.detail.meta?.taskId ?? e.detail.id
          flow({ kind: 'served', at: Date.now(), task, type: e.detail.type, from: requester, to: self })
        },
        { signal },
      )
      node.engine.addEventListener(
        'task:finished',
        (e) => {
          const requester = e.detail.meta?.requester
          if (requester === undefined || requester === self) return
          const task = e.detail.meta?.taskId ?? e.detail.id
          flow({
            kind: 'returned',
            at: Date.now(),
            task,
            type: e.detail.type,
            from: self,
            to: requester,
            ...(e.detail.status === 'COMPLETED' ? {} : { code: e.detail.error?.code ?? e.detail.status }),
          })
        },
        { signal },
      )
    },
    tasks: init.tasks,
  }
}

/**
 * The detail of a task this node submitted, from its record: every attempt (the failed ones and
 * the one that answered), the provider's timings, the vote of a redundant run, and how its result
 * was checked.
 */
export function networkTaskDetail(record: NetworkTaskRecord, self: string): TaskDetailJson {
  const answeredBy = record.peer
  const final = record.finishedAt !== undefined
  const attempts: AttemptView[] = record.attempts.map((a) => ({
    attempt: a.attempt,
    peer: a.peer,
    startedAt: a.startedAt,
    ...(a.finishedAt === undefined ? {} : { finishedAt: a.finishedAt }),
    ...(a.error === undefined ? {} : { error: { code: a.error.code, message: a.error.message } }),
  }))
  // The record lists the attempts that failed; the current one (or the one that answered) is
  // known by its peer, from the end of the attempt before it.
  if (answeredBy !== undefined && (!final || record.status === 'COMPLETED')) {
    const previous = record.attempts.at(-1)
    attempts.push({
      attempt: record.attempts.length + 1,
      peer: answeredBy,
      startedAt: previous?.finishedAt ?? record.submittedAt,
      ...(record.finishedAt === undefined ? {} : { finishedAt: record.finishedAt }),
      ...(record.status === 'COMPLETED' ? { answered: true } : {}),
    })
  }
  const remote = answeredBy !== undefined && answeredBy !== self
  const vote = record.redundancy
  const row: TaskRow = {
    id: record.id,
    type: record.type,
    status: record.status,
    side: 'submitted',
    ...(answeredBy === undefined ? {} : { peer: answeredBy }),
    queuedAt: record.submittedAt,
    ...(record.finishedAt === undefined
      ? {}
      : { finishedAt: record.finishedAt, latencyMs: record.finishedAt - record.submittedAt }),
    attempts: attempts.length,
    ...(record.error === undefined
      ? {}
      : { error: { code: record.error.code, message: record.error.message } }),
  }
  return {
    task: {
      ...row,
      priority: record.priority,
      ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
      ...(record.status === 'COMPLETED' ? { output: record.output } : {}),
      ...(record.progress === undefined
        ? {}
        : {
            progress: {
              fraction: record.progress.fraction,
              ...(record.progress.message === undefined ? {} : { message: record.progress.message }),
            },
          }),
    },
    attempts,
    ...(record.provider === undefined ? {} : { provider: record.provider }),
    ...(record.timings === undefined ? {} : { timings: { ...record.timings } }),
    ...(vote === undefined
      ? {}
      : {
          redundancy: {
            k: vote.k,
            required: vote.required,
            answers: vote.answers.map((a) => ({ peer: a.peer, agreed: a.agreed })),
          },
        }),
    ...(record.status !== 'COMPLETED'
      ? {}
      : { verified: vote !== undefined ? 'agreed' : remote ? 'signed' : 'local' }),
  }
}

function alertView(a: {
  name: string
  active: boolean
  message: string
  value: number | undefined
  threshold: number
  since?: number
}): AlertView {
  return {
    name: a.name,
    active: a.active,
    message: a.message,
    ...(a.value === undefined ? {} : { value: a.value }),
    threshold: a.threshold,
    ...(a.since === undefined ? {} : { since: a.since }),
  }
}
