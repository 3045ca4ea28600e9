/**
 * Custom agents: a task type defined by a name, an input schema and an async function becomes an
 * in-process engine backend, announced to peers like any other task type.
 */
import type { Backend, TaskType } from '@p2p-ai/engine'
import { CUSTOM_BACKEND_PREFIX } from '../constants.js'
import { InvalidTaskDefinitionError } from '../errors.js'
import type { AgreementRule } from '../trust/agreement.js'

/** What a task handler gets besides its input. */
export interface TaskRunContext {
  /** Aborted when the task is cancelled (by its requester), times out or the node stops. */
  readonly signal: AbortSignal
  /** Reports progress, 0..1, with an optional note for humans. Cheap; throttled before the wire. */
  progress(fraction: number, message?: string): void
  /**
   * Streams text as the task produces it, for the requester's `handle.stream()`: the pieces, in
   * order, must make up the `text` of the output the task returns (docs/protocol.md §2.6). Never
   * dropped; batched on the way.
   */
  stream(text: string): void
  /**
   * Records the task's state as of `fraction` of its work (a JSON value; above 1 MiB as canonical
   * JSON it travels by CID, between nodes that both have content, and is dropped otherwise): when
   * this node dies, the requester's next attempt starts from the latest one, here or elsewhere, and
   * `resume` holds it there (docs/protocol.md §2.8). Only the latest counts.
   */
  checkpoint(state: unknown, fraction: number): void
  /**
   * The checkpoint this run starts from (reported by an earlier attempt, maybe on another node),
   * or undefined: start from the beginning. Check it before trusting it: it came from a peer.
   */
  readonly resume: { readonly state: unknown; readonly fraction: number } | undefined
  /** The task id the requester chose. */
  readonly taskId: string
  /** The PeerId of the node that asked for the task (this node's own for a local run). */
  readonly requester: string | undefined
}

/** A task type of your own. */
export interface TaskDefinition<Input = unknown, Output = unknown> {
  /** The task type's name on the wire: lowercase words joined by `.` or `-`, like `summarize` or `text.upper`. */
  name: string
  /** One line for listings. */
  description?: string
  /** Schema of the input: zod 4 (or any Standard Schema). Every request is checked before `run`. */
  input: TaskType<Input>['input']
  /**
   * Does the work. Resolve with a JSON value; throw an error with a `code` (`ERR_…`) to fail the
   * task. It runs on the node's event loop: CPU-bound work should yield (`await`) every few
   * milliseconds or run in a worker, since a node that does not answer its peers for about 1.5 s
   * counts as unresponsive and its tasks move elsewhere.
   */
  run(input: Input, context: TaskRunContext): Promise<Output> | Output
  /**
   * Most tasks of this type run at once.
   *
   * @default the engine's concurrency
   */
  concurrency?: number
  /**
   * When two providers' outputs agree, for verification by redundancy (`redundancy: k`) on this
   * node. Nodes that only request this type set it with `setAgreementRule`.
   *
   * @default exact (canonical JSON) equality
   */
  agreement?: AgreementRule
}

/** A registered task type. */
export interface RegisteredTask {
  readonly name: string
  /** Stops accepting tasks of this type; resolves once running ones finished. */
  unregister(): Promise<void>
}

const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/

/**
 * Builds the engine backend for a task definition.
 *
 * @throws {InvalidTaskDefinitionError}
 */
export function taskBackend<Input, Output>(definition: TaskDefinition<Input, Output>): Backend {
  if (definition === null || typeof definition !== 'object') {
    throw new InvalidTaskDefinitionError('a task definition must be an object')
  }
  const { name, input, run, concurrency, description } = definition
  if (typeof name !== 'string' || name.length > 64 - CUSTOM_BACKEND_PREFIX.length || !TASK_TYPE.test(name)) {
    throw new InvalidTaskDefinitionError(
      `name: expected lowercase words joined by "." or "-" (like "summarize"), at most ${64 - CUSTOM_BACKEND_PREFIX.length} characters, got ${JSON.stringify(name)}`,
    )
  }
  if (typeof input !== 'object' || input === null || !('~standard' in input)) {
    throw new InvalidTaskDefinitionError(
      `input: expected a zod schema (or any Standard Schema) for task "${name}"`,
    )
  }
  if (typeof run !== 'function') {
    throw new InvalidTaskDefinitionError(`run: expected a function for task "${name}"`)
  }
  if (concurrency !== undefined && (!Number.isSafeInteger(concurrency) || concurrency < 1)) {
    throw new InvalidTaskDefinitionError(`concurrency: expected a positive integer for task "${name}"`)
  }
  return {
    name: `${CUSTOM_BACKEND_PREFIX}${name}`,
    taskTypes: [{ name, input, ...(description === undefined ? {} : { description }) }],
    ...(concurrency === undefined ? {} : { concurrency }),
    async load() {},
    async unload() {},
    async run(task, options) {
      // Engine ids of network tasks are `<requester>:<task id>` (neither part contains a colon).
      const colon = task.id.indexOf(':')
      let done = 0
      const context: TaskRunContext = {
        signal: options.signal,
        progress: (fraction, message) => {
          done = fraction
          options.onProgress?.({ fraction, ...(message === undefined ? {} : { message }) })
        },
        stream: (text) => {
          if (text !== '') options.onProgress?.({ fraction: done, delta: text })
        },
        checkpoint: (state, fraction) => {
          done = fraction
          options.onProgress?.({ fraction, checkpoint: state })
        },
        resume: task.resume,
        taskId: colon === -1 ? task.id : task.id.slice(colon + 1),
        requester: colon === -1 ? undefined : task.id.slice(0, colon),
      }
      return run(task.input as Input, context)
    },
  }
}
