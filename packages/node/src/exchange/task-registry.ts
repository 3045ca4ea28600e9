/** `node.tasks`: every task submitted on this node, live ones and a bounded history. */
import { TaskIdConflictError } from '@p2p-ai/engine'
import { InvalidTaskError } from './errors.js'
import type { NetworkTask } from './task.js'
import type { NetworkTaskHandle, NetworkTaskRecord, TaskList, TaskListOptions } from './types.js'

const DEFAULT_LIST_LIMIT = 100
const MAX_LIST_LIMIT = 10_000

export class TaskRegistry implements TaskList {
  readonly #active = new Map<string, NetworkTask>()
  /** Finished tasks, oldest first. */
  readonly #history = new Map<string, NetworkTask>()
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
  existing(id: string, type: string): NetworkTask | undefined {
    const task = this.#active.get(id) ?? this.#history.get(id)
    if (task !== undefined && task.type !== type) {
      throw new TaskIdConflictError(`task "${id}" exists with type "${task.type}", not "${type}"`)
    }
    return task
  }

  /** Tasks not yet finished. */
  active(): NetworkTask[] {
    return [...this.#active.values()]
  }

  add(task: NetworkTask): void {
    this.#active.set(task.id, task)
  }

  finished(task: NetworkTask): void {
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
    const matches = (task: NetworkTask): boolean =>
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
