import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { z } from 'zod'
import type { Backend, BackendRunOptions, BackendTask, ModelInfo, TaskType } from '../backend.js'
import { MOCK_CPU_SLICE_MS, MOCK_MAX_SIMULATED_MS, MOCK_MAX_STEPS } from '../constants.js'
import { InvalidConfigError, MockFailureError, UnsupportedTaskTypeError } from '../errors.js'

export interface MockBackendInit {
  /** Registry name; change it to register several mocks. @default 'mock' */
  readonly name?: string
  /** Task type served. @default 'mock' */
  readonly taskType?: string
  /** Simulated latency of every task in milliseconds (a timer, not CPU). @default 0 */
  readonly latencyMs?: number
  /**
   * Fraction of tasks that fail with `ERR_MOCK_FAILURE`, 0..1. Which ones is decided by a hash of
   * `seed` and the task id, so the same ids fail on every run. @default 0
   */
  readonly failureRate?: number
  /** Changes which task ids fail. @default 0 */
  readonly seed?: number | string
  /** Models announced in capabilities (the mock loads nothing). @default [] */
  readonly models?: readonly ModelInfo[]
  /** Most mock tasks at once. @default the engine's concurrency */
  readonly concurrency?: number
  /** Run in the engine's worker pool. `false` runs in-process (lowest overhead). @default true */
  readonly worker?: boolean
}

/** Input of a `mock` task; every field is optional. */
export interface MockInput {
  readonly text?: string | undefined
  /** Extra latency for this task, in milliseconds (timer). */
  readonly latencyMs?: number | undefined
  /** Busy CPU time for this task, in milliseconds (yields every few ms, so it stays cancellable). */
  readonly cpuMs?: number | undefined
  /** Fail this task with `ERR_MOCK_FAILURE`. */
  readonly fail?: boolean | undefined
  /**
   * A long task that checkpoints: `steps` steps of `stepMs` each (a timer), reporting progress and
   * a checkpoint after every one, and resuming from the checkpoint it is given (`output.steps`
   * says from where). For demonstrating and testing resumption after a provider died.
   */
  readonly steps?: number | undefined
  /** Time per step, in milliseconds (a timer). @default 0 */
  readonly stepMs?: number | undefined
}

/** Output of a `mock` task: a pure function of the input text. */
export interface MockOutput {
  readonly text: string
  readonly length: number
  readonly words: number
  /** FNV-1a 32-bit hash of the text, 8 hex digits. */
  readonly checksum: string
  /** Only for a task with `steps`. */
  readonly steps?: MockSteps
}

/** What a checkpointing `mock` task did. */
export interface MockSteps {
  readonly total: number
  /** The step this run started from: 0, or the checkpoint it resumed. */
  readonly resumedFrom: number
  /**
   * A hash chained over every step, 8 hex digits: the same whether or not the task was resumed,
   * since it is carried in the checkpoint (a run that ignored its checkpoint's state could not
   * produce it).
   */
  readonly digest: string
}

/** A `mock` task's checkpoint: the next step, and the digest of the steps before it. */
interface MockCheckpoint {
  readonly step: number
  readonly digest: string
}

const simulatedMs = z.number().int().min(0).max(MOCK_MAX_SIMULATED_MS)

export const mockInputSchema = z.strictObject({
  text: z
    .string()
    .max(1024 * 1024)
    .optional(),
  latencyMs: simulatedMs.optional(),
  cpuMs: simulatedMs.optional(),
  fail: z.boolean().optional(),
  steps: z.number().int().min(1).max(MOCK_MAX_STEPS).optional(),
  stepMs: simulatedMs.optional(),
})

/**
 * The `mock` backend: deterministic output, configurable latency and failure rate. For demos,
 * tests and benchmarks of the engine itself.
 */
export function mockBackend(init: MockBackendInit = {}): Backend {
  const name = init.name ?? 'mock'
  const taskType: TaskType<MockInput> = {
    name: init.taskType ?? 'mock',
    description: 'Echo the input text with its length, word count and checksum (for tests and demos)',
    input: mockInputSchema,
  }
  const latencyMs = init.latencyMs ?? 0
  const failureRate = init.failureRate ?? 0
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new InvalidConfigError(`mock latencyMs must be a non-negative number, got ${latencyMs}`)
  }
  if (!(failureRate >= 0 && failureRate <= 1)) {
    throw new InvalidConfigError(`mock failureRate must be within 0..1, got ${failureRate}`)
  }
  const seed = String(init.seed ?? 0)
  const models = init.models ?? []
  return {
    name,
    taskTypes: [taskType],
    ...(init.concurrency === undefined ? {} : { concurrency: init.concurrency }),
    ...(init.worker === false
      ? {}
      : { worker: { module: import.meta.url, export: 'mockBackend', init: { ...init, worker: false } } }),
    async load() {},
    async run(task: BackendTask, options: BackendRunOptions): Promise<unknown> {
      if (task.type !== taskType.name) {
        throw new UnsupportedTaskTypeError(`the ${name} backend does not run task type "${task.type}"`)
      }
      const input = task.input as MockInput
      const wait = latencyMs + (input.latencyMs ?? 0)
      if (wait > 0) await sleep(wait, options.signal)
      if (input.cpuMs !== undefined && input.cpuMs > 0) await spin(input.cpuMs, options)
      const steps = input.steps === undefined ? undefined : await runSteps(task, input, options)
      options.signal.throwIfAborted()
      if (input.fail === true || (failureRate > 0 && unit(`${seed}:${task.id}`) < failureRate)) {
        throw new MockFailureError(`mock failure for task ${task.id}`)
      }
      const output = mockOutput(input.text ?? '')
      return steps === undefined ? output : { ...output, steps }
    },
    async unload() {},
    models: () => models,
  }
}

/** A plain `mock` task's output (no `steps`): what it returns for `text`. */
export function mockOutput(text: string): Omit<MockOutput, 'steps'> {
  const words = text.split(/\s+/).filter((w) => w.length > 0).length
  return { text, length: text.length, words, checksum: fnv1a(text).toString(16).padStart(8, '0') }
}

/** FNV-1a, 32 bits, over UTF-16 code units: tiny, fast and stable across platforms. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * A uniform number in [0, 1) from a string. FNV-1a alone spreads the low bits well but not the
 * high ones for keys that differ in their last characters (`task-1`, `task-2`), so its result is
 * passed through MurmurHash3's finaliser first.
 */
function unit(key: string): number {
  let h = fnv1a(key)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 0x1_0000_0000
}

/**
 * The steps of a checkpointing task, from its checkpoint if it has a usable one: a checkpoint that
 * is not one of ours (another task's, a lying peer's) is ignored, and the task starts over.
 */
async function runSteps(task: BackendTask, input: MockInput, options: BackendRunOptions): Promise<MockSteps> {
  const total = input.steps as number
  const stepMs = input.stepMs ?? 0
  const from = resumePoint(task.resume?.state, total)
  let digest =
    from?.digest ??
    fnv1a(input.text ?? '')
      .toString(16)
      .padStart(8, '0')
  const resumedFrom = from?.step ?? 0
  for (let step = resumedFrom; step < total; step++) {
    if (stepMs > 0) await sleep(stepMs, options.signal)
    else await yieldToLoop()
    options.signal.throwIfAborted()
    digest = fnv1a(`${digest}:${step}`).toString(16).padStart(8, '0')
    const checkpoint: MockCheckpoint = { step: step + 1, digest }
    options.onProgress?.({ fraction: (step + 1) / total, checkpoint })
  }
  return { total, resumedFrom, digest }
}

function resumePoint(state: unknown, total: number): MockCheckpoint | undefined {
  const s = state as Partial<MockCheckpoint> | null | undefined
  if (typeof s !== 'object' || s === null) return undefined
  const { step, digest } = s
  if (!Number.isSafeInteger(step) || (step as number) < 0 || (step as number) > total) return undefined
  if (typeof digest !== 'string' || !/^[0-9a-f]{8}$/.test(digest)) return undefined
  return { step: step as number, digest }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function spin(ms: number, options: BackendRunOptions): Promise<void> {
  const started = performance.now()
  const until = started + ms
  for (;;) {
    const sliceEnd = Math.min(until, performance.now() + MOCK_CPU_SLICE_MS)
    while (performance.now() < sliceEnd) {
      // busy: this is the simulated inference
    }
    const now = performance.now()
    options.onProgress?.({ fraction: Math.min(1, (now - started) / ms) })
    if (now >= until) return
    await yieldToLoop()
    options.signal.throwIfAborted()
  }
}
