import type { Llama, LlamaLogLevel } from 'node-llama-cpp'
import { LlamaUnavailableError } from './errors.js'

/** The node-llama-cpp module. */
export type NodeLlamaCpp = typeof import('node-llama-cpp')

let module: Promise<NodeLlamaCpp> | undefined

/**
 * node-llama-cpp, imported on first use: importing it takes about 0.3 s, and a program that
 * registers the backend but never generates should not pay for it (nor fail on a platform
 * without a prebuilt binary).
 */
export function nodeLlamaCpp(): Promise<NodeLlamaCpp> {
  module ??= import('node-llama-cpp')
  return module
}

/** Lines llama.cpp logged at error level recently, kept to explain a failed load. */
const ERROR_LINES_KEPT = 8
/** llama.cpp's log lines reach JavaScript a moment after the call that failed has rejected. */
const ERROR_LOG_WAIT_MS = 100

/** The process's llama.cpp instance. */
export interface LlamaRuntime {
  readonly llama: Llama
  readonly lib: NodeLlamaCpp
  /** Forgets what llama.cpp logged so far, before a call whose failure `failureLog` may explain. */
  clearLog(): void
  /** llama.cpp's error lines since `clearLog()`, waiting briefly for them: they arrive late. */
  failureLog(): Promise<string[]>
}

let runtime: Promise<LlamaRuntime> | undefined

async function start(): Promise<LlamaRuntime> {
  let lib: NodeLlamaCpp
  try {
    lib = await nodeLlamaCpp()
  } catch (err) {
    throw new LlamaUnavailableError(
      `node-llama-cpp could not be imported: ${(err as Error).message}; reinstall @p2p-ai/llama`,
      { cause: err },
    )
  }
  const errors: string[] = []
  const logger = (level: LlamaLogLevel, message: string): void => {
    if (level !== lib.LlamaLogLevel.error && level !== lib.LlamaLogLevel.fatal) return
    errors.push(message.trim())
    if (errors.length > ERROR_LINES_KEPT) errors.shift()
  }
  let llama: Llama
  try {
    llama = await lib.getLlama({
      // The CPU build from node-llama-cpp's prebuilt binaries, and never anything else: no GPU
      // probing, no download of llama.cpp's sources, no compilation.
      gpu: false,
      build: 'never',
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      // 0: each context uses exactly the threads it is created with (its backend's `threads`).
      maxThreads: 0,
      logLevel: lib.LlamaLogLevel.warn,
      logger,
    })
  } catch (err) {
    throw new LlamaUnavailableError(
      `llama.cpp cannot run on this machine (${process.platform}-${process.arch}): ${(err as Error).message}. ` +
        'node-llama-cpp ships prebuilt CPU binaries in optional @node-llama-cpp/<platform> packages: ' +
        'check that the one for this platform was installed (optional dependencies not omitted)',
      { cause: err },
    )
  }
  return {
    llama,
    lib,
    clearLog() {
      errors.length = 0
    },
    async failureLog() {
      const deadline = performance.now() + ERROR_LOG_WAIT_MS
      while (errors.length === 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      return errors.splice(0)
    },
  }
}

/**
 * llama.cpp on the CPU, started on first use from node-llama-cpp's prebuilt binaries (a machine
 * without one gets `ERR_LLAMA_UNAVAILABLE` with what to do), and shared by every backend of the
 * process for its lifetime. node-llama-cpp's native binding and log callback are process-wide:
 * with two instances alive llama.cpp's log reached neither, and an instance started after another
 * was disposed never received it. Kept, an idle instance costs nothing (no threads, no CPU: its
 * models and contexts are disposed) and does not keep the process alive.
 */
export function llamaRuntime(): Promise<LlamaRuntime> {
  runtime ??= start()
  // A failed start (no binary) is tried again next time.
  runtime.catch(() => {
    runtime = undefined
  })
  return runtime
}
