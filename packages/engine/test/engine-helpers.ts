import { z } from 'zod'
import type { Backend, BackendRunOptions, BackendTask } from '../src/backend.js'

/** One run of the gate backend, held until the test releases it. */
export interface GatedRun {
  readonly task: BackendTask
  readonly options: BackendRunOptions
  resolve(output: unknown): void
  reject(err: unknown): void
}

/**
 * An in-process backend whose runs wait for the test: `runs` lists them in start order. Runs
 * reject with the signal's reason when aborted, unless `ignoreAbort` (a backend that never stops).
 */
export function gateBackend(
  init: { name?: string; type?: string; ignoreAbort?: boolean; concurrency?: number } = {},
) {
  const runs: GatedRun[] = []
  const waiters: Array<() => void> = []
  let loads = 0
  let unloads = 0
  const backend: Backend = {
    name: init.name ?? 'gate',
    taskTypes: [{ name: init.type ?? 'gate', input: z.object({ n: z.number().optional() }).optional() }],
    ...(init.concurrency === undefined ? {} : { concurrency: init.concurrency }),
    async load() {
      loads++
    },
    run(task, options) {
      return new Promise((resolve, reject) => {
        runs.push({ task, options, resolve, reject })
        if (init.ignoreAbort !== true)
          options.signal.addEventListener('abort', () => reject(options.signal.reason))
        for (const wake of waiters.splice(0)) wake()
      })
    },
    async unload() {
      unloads++
    },
  }
  return {
    backend,
    runs,
    get loads() {
      return loads
    },
    get unloads() {
      return unloads
    },
    /** Resolves once at least `n` runs have started. */
    async started(n: number): Promise<void> {
      while (runs.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
    },
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every few milliseconds until it returns true; fails after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}
