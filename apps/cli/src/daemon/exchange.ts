import type { TaskJson, TaskStatus } from '../control/types.js'

/*
 * The task exchange of @p2p-ai/node (`node.submit`, `node.tasks`), described structurally: the
 * CLI uses it when the node has it and runs tasks on the node's own engine when it does not.
 */

export interface NetworkRecordLike {
  readonly id: string
  readonly type: string
  readonly status: TaskStatus
  readonly priority: number
  readonly target: string
  readonly peer?: string
  readonly submittedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  readonly progress?: { readonly fraction: number; readonly message?: string }
  readonly output?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  readonly attempts: readonly unknown[]
  /** For a redundant task: who answered and whether each agreed with the accepted answer. */
  readonly redundancy?: {
    readonly k: number
    readonly required: number
    readonly answers: ReadonlyArray<{ readonly peer: string; readonly agreed: boolean }>
  }
}

export interface NetworkHandleLike {
  readonly id: string
  record(): NetworkRecordLike
  result(): Promise<NetworkRecordLike>
  cancel(reason?: string): boolean
}

export interface ExchangeNode {
  submit(
    task: {
      type: string
      input: Record<string, unknown>
      id?: string
      priority?: number
      timeoutMs?: number
    },
    options?: { target?: string; redundancy?: number; signal?: AbortSignal },
  ): NetworkHandleLike | Promise<NetworkHandleLike>
  readonly tasks: {
    get(id: string): NetworkRecordLike | undefined
    handle(id: string): NetworkHandleLike | undefined
    list(options?: { limit?: number }): NetworkRecordLike[]
  }
}

/** The node's task exchange, if it has one. */
export function exchangeOf(node: object): ExchangeNode | undefined {
  const n = node as Partial<ExchangeNode>
  if (typeof n.submit !== 'function') return undefined
  const tasks = n.tasks as Partial<ExchangeNode['tasks']> | undefined
  if (
    typeof tasks?.get !== 'function' ||
    typeof tasks.handle !== 'function' ||
    typeof tasks.list !== 'function'
  ) {
    return undefined
  }
  return n as ExchangeNode
}

/** A record of the exchange as the control API shows it; `peer` is set for tasks run elsewhere. */
export function networkRecordToJson(r: NetworkRecordLike, self: string): TaskJson {
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
  }
}
