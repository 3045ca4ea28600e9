/**
 * How a task record of the node becomes the control API's `TaskJson`: the records of the task
 * exchange (tasks this node submitted, wherever they ran) and those of its engine (what ran here,
 * for this node or for peers).
 */
import type { TaskRecord } from '@p2p-ai/engine'
import type { NetworkTaskRecord } from '@p2p-ai/node'
import type { TaskJson } from '../control/types.js'

/** A record of the exchange; `meta.peer` is set for a task run elsewhere. */
export function networkRecordToJson(r: NetworkTaskRecord, self: string): TaskJson {
  const remote = r.peer !== undefined && r.peer !== self
  const vote = r.redundancy
  const meta =
    vote !== undefined
      ? {
          agreement: `${vote.answers.filter((a) => a.agreed).length}/${vote.k}`,
          peers: vote.answers.map((a) => a.peer).join(','),
        }
      : remote
        ? { peer: r.peer! }
        : undefined
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    priority: r.priority,
    backend: vote !== undefined ? 'redundant' : remote ? 'remote' : 'local',
    queuedAt: r.submittedAt,
    ...(r.startedAt === undefined ? {} : { startedAt: r.startedAt }),
    ...(r.finishedAt === undefined ? {} : { finishedAt: r.finishedAt }),
    ...(r.progress === undefined ? {} : { progress: r.progress }),
    ...(r.status === 'COMPLETED' ? { output: r.output } : {}),
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }),
    ...(meta === undefined ? {} : { meta }),
    // The exchange lists the attempts that failed; the one running or that produced the result is not among them.
    attempts:
      r.attempts.length +
      (r.status === 'QUEUED' || r.status === 'RUNNING' || r.status === 'COMPLETED' ? 1 : 0),
    ...(r.resumed === undefined ? {} : { resumed: r.resumed }),
  }
}

/**
 * A record of this node's engine. The exchange runs this node's own tasks as `<self>:<id>` with
 * `meta.taskId`: they are shown under the id they were submitted with. Tasks run for peers keep
 * their engine id and `meta.requester`.
 */
export function engineRecordToJson(r: TaskRecord, self: string): TaskJson {
  const own = r.meta?.requester === self && typeof r.meta.taskId === 'string'
  const meta = own ? undefined : r.meta
  return {
    id: own ? r.meta!.taskId! : r.id,
    type: r.type,
    status: r.status,
    priority: r.priority,
    backend: r.backend,
    queuedAt: r.queuedAt,
    ...(r.startedAt === undefined ? {} : { startedAt: r.startedAt }),
    ...(r.finishedAt === undefined ? {} : { finishedAt: r.finishedAt }),
    ...(r.progress === undefined ? {} : { progress: r.progress }),
    ...(r.status === 'COMPLETED' ? { output: r.output } : {}),
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }),
    ...(meta === undefined ? {} : { meta }),
  }
}
