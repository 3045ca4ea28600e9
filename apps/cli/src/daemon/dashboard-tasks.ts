/**
 * The node's tasks as the dashboard lists, shows, submits and follows them: through the control
 * API's own task operations (which also list what this node ran for peers), with the details of
 * the node's own records (attempts, timings, the vote of a redundant run).
 */
import {
  type DashboardTasks,
  networkTaskDetail,
  type TaskDetailJson,
  type TaskRow,
  type TaskStreamJson,
  type TraceJson,
} from '@p2p-ai/dashboard'
import type { P2PNode } from '@p2p-ai/node'
import type { ControlTarget } from '../control/target.js'
import type { TaskJson } from '../control/types.js'

/** What the dashboard needs of a control target that reads traces (`GET /v1/traces/:id`). */
interface TraceReader {
  trace?(id: string, options: { remote: boolean; signal: AbortSignal }): Promise<TraceJson | undefined>
}

/** The control API's task operations as the dashboard reads them. */
export function dashboardTasks(node: P2PNode, target: ControlTarget): DashboardTasks {
  const self = node.peerId
  const traced = target as ControlTarget & TraceReader
  const detailOf = async (id: string): Promise<TaskDetailJson | undefined> => {
    const record = node.tasks.get(id)
    if (record !== undefined) return networkTaskDetail(record, self)
    const json = await target.task(id)
    return json === undefined ? undefined : engineTaskDetail(json, self)
  }
  return {
    async list(filter) {
      const rows = (
        await target.list({
          // Side and peer are filtered here, after the control API's own filters: ask for more.
          limit: filter.side === undefined && filter.peer === undefined ? filter.limit : 1000,
          offset: 0,
          ...(filter.status === undefined ? {} : { status: filter.status }),
          ...(filter.type === undefined ? {} : { type: filter.type }),
        })
      ).map((t) => taskRow(t, self))
      const peer = filter.peer?.toLowerCase()
      return rows
        .filter(
          (r) =>
            (filter.side === undefined || r.side === filter.side) &&
            (peer === undefined || (r.peer ?? '').toLowerCase().includes(peer)),
        )
        .slice(0, filter.limit)
    },
    detail: detailOf,
    async submit(request, { signal }) {
      const task = await target.submit(
        {
          type: request.type,
          input: request.input,
          ...(request.target === undefined ? {} : { target: request.target }),
          ...(request.redundancy === undefined ? {} : { redundancy: request.redundancy }),
        },
        { signal },
      )
      return (await detailOf(task.id)) ?? engineTaskDetail(task, self)
    },
    stream(id, signal) {
      const events = target.stream(id, signal)
      if (events === undefined) return undefined
      return (async function* (): AsyncGenerator<TaskStreamJson> {
        for await (const event of events) {
          if (event.type !== 'end') yield event
          else yield { type: 'end', detail: (await detailOf(id)) ?? engineTaskDetail(event.task, self) }
        }
      })()
    },
    // A task's detail shows its trace timeline where the control target reads traces (the tracing
    // plug-in's `GET /v1/traces/:id`); without it, the detail shows attempts and timings only.
    ...(traced.trace === undefined
      ? {}
      : {
          trace: (id: string, { signal }: { signal: AbortSignal }) =>
            traced.trace!(id, { remote: true, signal }),
        }),
  }
}

/** A task of the control API as a row: a task a peer sent this node is `served`. */
function taskRow(t: TaskJson, self: string): TaskRow {
  const requester = t.meta?.requester
  const served = requester !== undefined && requester !== self
  const peer = served ? requester : (t.meta?.peer ?? (t.backend === 'redundant' ? undefined : self))
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    side: served ? 'served' : 'submitted',
    ...(peer === undefined ? {} : { peer }),
    queuedAt: t.queuedAt,
    ...(t.finishedAt === undefined ? {} : { finishedAt: t.finishedAt, latencyMs: t.finishedAt - t.queuedAt }),
    ...(t.attempts === undefined ? {} : { attempts: t.attempts }),
    ...(t.error === undefined ? {} : { error: t.error }),
  }
}

/** A task known only from the engine (served for a peer, or from before a restart). */
function engineTaskDetail(t: TaskJson, self: string): TaskDetailJson {
  const row = taskRow(t, self)
  return {
    task: {
      ...row,
      priority: t.priority,
      ...(t.startedAt === undefined ? {} : { startedAt: t.startedAt }),
      ...(t.status === 'COMPLETED' ? { output: t.output } : {}),
      ...(t.progress === undefined ? {} : { progress: t.progress }),
    },
    attempts: [],
    ...(t.status === 'COMPLETED' && row.side === 'submitted' ? { verified: 'local' as const } : {}),
  }
}
