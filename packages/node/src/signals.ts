/** What `handleSignals` needs of a node. */
export interface Stoppable {
  stop(options?: { deadlineMs?: number }): Promise<unknown>
}

export interface HandleSignalsOptions {
  /**
   * Signals that start a graceful shutdown.
   *
   * @default ['SIGINT', 'SIGTERM']
   */
  signals?: readonly NodeJS.Signals[]
  /**
   * Shutdown deadline passed to `stop()`.
   *
   * @default the node's `shutdown.deadlineMs`
   */
  deadlineMs?: number
  /**
   * Called with the exit code once the node stopped (0), the stop failed (1) or a second signal
   * arrived while stopping (130, like a shell's Ctrl-C). Use it to flush and exit.
   *
   * @default process.exit
   */
  exit?: (code: number) => void
  /** Called when a signal arrives, e.g. to log it. */
  onSignal?: (signal: NodeJS.Signals) => void
  /** Called when `stop()` rejects. */
  onError?: (err: unknown) => void
}

/**
 * For CLIs: stops the node gracefully on SIGINT/SIGTERM, then exits. A second signal while
 * stopping exits at once. Nothing is installed until this is called (a library never takes over
 * a process's signals on import); the returned function removes the handlers.
 *
 * ```ts
 * const node = await createNode(await loadConfig())
 * handleSignals(node)
 * ```
 */
export function handleSignals(node: Stoppable, options: HandleSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM']
  const exit = options.exit ?? ((code: number) => process.exit(code))
  let stopping = false
  const listener = (signal: NodeJS.Signals): void => {
    options.onSignal?.(signal)
    if (stopping) {
      exit(130)
      return
    }
    stopping = true
    const stopOptions = options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }
    node.stop(stopOptions).then(
      () => exit(0),
      (err: unknown) => {
        options.onError?.(err)
        exit(1)
      },
    )
  }
  for (const s of signals) process.on(s, listener)
  return () => {
    for (const s of signals) process.off(s, listener)
  }
}
