import { randomUUID } from 'node:crypto'
import type { CancelJson, PeerJson, SubmitRequest, TaskJson, TaskStatus } from '../control/types.js'

/** What redundant runs need of the node. */
export interface RedundancyInit {
  readonly node: {
    readonly peerId: string
    peers(): readonly PeerJson[]
    readonly engine: { capabilities(): { readonly taskTypes: ReadonlyArray<{ readonly name: string }> } }
  }
  /** Whether tasks can be sent to other peers at all. */
  readonly routing: boolean
  submitTo(request: SubmitRequest, target: string): Promise<TaskJson>
  get(id: string): TaskJson | undefined
  wait(id: string, timeoutMs: number, signal: AbortSignal): Promise<TaskJson | undefined>
  cancel(id: string): CancelJson
}

interface Group {
  readonly id: string
  readonly type: string
  readonly priority: number
  readonly queuedAt: number
  /** Sub-task id → the peer it was sent to. */
  readonly members: ReadonlyArray<readonly [string, string]>
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/** Canonical JSON (sorted keys), so equal outputs compare equal whatever their key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Whether a peer announced it runs `type`. */
export function peerRuns(peer: PeerJson, type: string): boolean {
  const caps = peer.capabilities as { taskTypes?: unknown } | undefined
  return Array.isArray(caps?.taskTypes) && caps.taskTypes.includes(type)
}

const FINAL: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED']

/**
 * `task submit --redundancy k`: the same task on k different nodes (this one included when it runs
 * the type), and one answer: COMPLETED with the output a strict majority of them returned, else
 * FAILED with `ERR_RESULTS_DISAGREE` (or `ERR_REDUNDANCY_FAILED` when too few completed). The
 * sub-tasks are `<id>-r1`...`<id>-rk` and can be inspected on their own.
 */
export class RedundantTasks {
  readonly #init: RedundancyInit
  readonly #groups = new Map<string, Group>()

  constructor(init: RedundancyInit) {
    this.#init = init
  }

  has(id: string): boolean {
    return this.#groups.has(id)
  }

  async submit(request: SubmitRequest): Promise<TaskJson> {
    const k = request.redundancy ?? 1
    const { node } = this.#init
    if (!this.#init.routing) {
      throw coded(
        'ERR_ROUTING_UNAVAILABLE',
        `--redundancy ${k} needs ${k} nodes, and this node cannot send tasks to peers (its @p2p-ai/node has no task exchange)`,
      )
    }
    const candidates: string[] = []
    if (node.engine.capabilities().taskTypes.some((t) => t.name === request.type))
      candidates.push(node.peerId)
    for (const p of node.peers()) {
      if (p.status === 'connected' && peerRuns(p, request.type)) candidates.push(p.peerId)
    }
    if (candidates.length < k) {
      throw coded(
        'ERR_NOT_ENOUGH_PEERS',
        `--redundancy ${k} needs ${k} nodes that run "${request.type}"; ${candidates.length} do (this node and its connected peers)`,
      )
    }
    const id = request.id ?? randomUUID()
    const members: Array<readonly [string, string]> = []
    for (let i = 0; i < k; i++) {
      const target = candidates[i]!
      const sub = await this.#init.submitTo(
        { ...request, id: `${id}-r${i + 1}`, redundancy: 1 },
        target === node.peerId ? 'self' : target,
      )
      members.push([sub.id, target])
    }
    this.#groups.set(id, {
      id,
      type: request.type,
      priority: request.priority ?? 0,
      queuedAt: Date.now(),
      members,
    })
    return this.get(id)!
  }

  get(id: string): TaskJson | undefined {
    const group = this.#groups.get(id)
    return group === undefined ? undefined : this.#combine(group)
  }

  list(): TaskJson[] {
    return [...this.#groups.values()].map((g) => this.#combine(g))
  }

  async wait(id: string, timeoutMs: number, signal: AbortSignal): Promise<TaskJson | undefined> {
    const group = this.#groups.get(id)
    if (group === undefined) return undefined
    const deadline = Date.now() + timeoutMs
    for (const [sub] of group.members) {
      const left = deadline - Date.now()
      if (left <= 0 || signal.aborted) break
      await this.#init.wait(sub, left, signal)
    }
    return this.#combine(group)
  }

  cancel(id: string): CancelJson {
    const group = this.#groups.get(id)!
    let cancelled = false
    for (const [sub] of group.members) {
      try {
        cancelled = this.#init.cancel(sub).cancelled || cancelled
      } catch {
        // A member already gone counts as not cancelled.
      }
    }
    return { cancelled, task: this.#combine(group) }
  }

  #combine(group: Group): TaskJson {
    const members = group.members.map(([sub, peer]) => ({ peer, task: this.#init.get(sub) }))
    const base = {
      id: group.id,
      type: group.type,
      priority: group.priority,
      backend: 'redundant',
      queuedAt: group.queuedAt,
      meta: {
        peers: group.members.map(([, p]) => p).join(','),
        tasks: group.members.map(([s]) => s).join(','),
      },
    }
    const statuses = members.map((m) => m.task?.status)
    const starts = members.map((m) => m.task?.startedAt).filter((t): t is number => t !== undefined)
    const startedAt = starts.length === 0 ? {} : { startedAt: Math.min(...starts) }
    if (!statuses.every((s) => s !== undefined && FINAL.includes(s))) {
      const status: TaskStatus = statuses.includes('RUNNING')
        ? 'RUNNING'
        : statuses.includes('QUEUED')
          ? 'QUEUED'
          : 'PENDING'
      return { ...base, ...startedAt, status }
    }
    const finishedAt = Math.max(...members.map((m) => m.task?.finishedAt ?? 0))
    const votes = new Map<string, { count: number; output: unknown }>()
    for (const m of members) {
      if (m.task?.status !== 'COMPLETED') continue
      const key = canonical(m.task.output)
      const v = votes.get(key) ?? { count: 0, output: m.task.output }
      v.count++
      votes.set(key, v)
    }
    const k = members.length
    const best = [...votes.values()].sort((a, b) => b.count - a.count)[0]
    const agreement = `${best?.count ?? 0}/${k}`
    if (best !== undefined && best.count * 2 > k) {
      return {
        ...base,
        ...startedAt,
        finishedAt,
        status: 'COMPLETED',
        output: best.output,
        meta: { ...base.meta, agreement },
      }
    }
    const completed = [...votes.values()].reduce((n, v) => n + v.count, 0)
    const error =
      completed * 2 > k
        ? {
            code: 'ERR_RESULTS_DISAGREE',
            message: `the ${k} nodes disagree: at most ${agreement} returned the same output`,
          }
        : {
            code: 'ERR_REDUNDANCY_FAILED',
            message: `only ${completed} of ${k} runs completed: ${members
              .filter((m) => m.task?.status !== 'COMPLETED')
              .map((m) => `${m.task?.error?.code ?? m.task?.status}`)
              .join(', ')}`,
          }
    return { ...base, ...startedAt, finishedAt, status: 'FAILED', error, meta: { ...base.meta, agreement } }
  }
}
