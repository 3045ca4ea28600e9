/** `node.tasks`: every task submitted on this node, live ones and a bounded history. */
import { TaskIdConflictError } from '@p2p-ai/engine'
import { InvalidTaskError } from './errors.js'
import type { NetworkTaskHandle, NetworkTaskRecord, TaskList, TaskListOptions } from './types.js'

/** A submitted task as the registry keeps it: a plain one or a redundant one. */
export interface TrackedTask extends NetworkTaskHandle {
  /** The provider of the current or last attempt (the accepted answer's, for a redundant task). */
  readonly peer: string | undefined
  /** The exchange is stopping: fail unless final. */
  halt(): void
}

const DEFAULT_LIST_LIMIT = 100
const MAX_LIST_LIMIT = 10_000

export class TaskRegistry implements TaskList {
  readonly #active = new Map<string, TrackedTask>()
  /** Finished tasks, oldest first. */
  readonly #history = new Map<string, TrackedTask>()
  readonly #historyLimit: number

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit
  }

  get pending(): number {
    return this.#active.size
  }

  /**
   * The known task with this id, if any, so a resubmission joins it instead of running twice.
   *
   * @throws {TaskIdConflictError} if the id is taken by a task of another type
   */
  existing(id: string, type: string): TrackedTask | undefined {
    const task = this.#active.get(id) ?? this.#history.get(id)
    if (task !== undefined && task.type !== type) {
      throw new TaskIdConflictError(`task "${id}" exists with type "${task.type}", not "${type}"`)
    }
    return task
  }

  /** Tasks not yet finished. */
  active(): TrackedTask[] {
    return [...this.#active.values()]
  }

  add(task: TrackedTask): void {
    this.#active.set(task.id, task)
  }

  finished(task: TrackedTask): void {
    if (this.#active.get(task.id) !== task) return
    this.#active.delete(task.id)
    if (this.#historyLimit === 0) return
    this.#history.set(task.id, task)
    while (this.#history.size > this.#historyLimit) {
      this.#history.delete(this.#history.keys().next().value as string)
    }
  }

  get(id: string): NetworkTaskRecord | undefined {
    return this.handle(id)?.record()
  }

  handle(id: string): NetworkTaskHandle | undefined {
    return this.#active.get(id) ?? this.#history.get(id)
  }

  list(options: TaskListOptions = {}): NetworkTaskRecord[] {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidTaskError(
        `limit: expected an integer from 1 to ${MAX_LIST_LIMIT}, got ${String(limit)}`,
      )
    }
    const matches = (task: TrackedTask): boolean =>
      (options.status === undefined || task.status === options.status) &&
      (options.type === undefined || task.type === options.type) &&
      (options.peer === undefined || task.peer === options.peer)
    const found: NetworkTaskRecord[] = []
    for (const task of [...this.#active.values(), ...this.#history.values()]) {
      if (matches(task)) found.push(task.record())
    }
    found.sort((a, b) => b.submittedAt - a.submittedAt)
    return found.slice(0, limit)
  }
}
