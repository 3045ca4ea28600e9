import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { z } from 'zod'
import type { Backend, BackendRunOptions, BackendTask, ModelInfo, TaskType } from '../backend.js'
import { MOCK_CPU_SLICE_MS, MOCK_MAX_SIMULATED_MS } from '../constants.js'
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
}

/** Output of a `mock` task: a pure function of the input text. */
export interface MockOutput {
  readonly text: string
  readonly length: number
  readonly words: number
  /** FNV-1a 32-bit hash of the text, 8 hex digits. */
  readonly checksum: string
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
      options.signal.throwIfAborted()
      if (input.fail === true || (failureRate > 0 && unit(`${seed}:${task.id}`) < failureRate)) {
        throw new MockFailureError(`mock failure for task ${task.id}`)
      }
      return mockOutput(input.text ?? '')
    },
    async unload() {},
    models: () => models,
  }
}

/** What a `mock` task returns for `text`. */
export function mockOutput(text: string): MockOutput {
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
