import type { Transport } from '@p2p-ai/transport'
import { InvalidStateTransitionError, StartAbortedError, StartFailedError } from './errors.js'
import type { Lifecycle } from './lifecycle.js'
import type { Logger } from './logger.js'

/** What `startNode` needs from the node. */
export interface StartSteps {
  readonly transport: Transport
  readonly lifecycle: Lifecycle
  /** Aborted by `stop()`. */
  readonly stopSignal: AbortSignal
  /** The caller's signal. */
  readonly signal: AbortSignal | undefined
  readonly log: Logger
  /** Protocol handlers and transport event listeners. */
  register(): Promise<void>
  /** The first health round, so readiness is known the moment the node is ACTIVE. */
  checkHealth(): Promise<unknown>
  /** Timers, peer directory, config watcher: everything that runs while ACTIVE. */
  activate(): void
  /** Shuts down what a failed start left running (does not wait for the start). */
  cleanUp(): Promise<unknown>
}

/**
 * INITIALIZING → REGISTERING → ACTIVE. On failure or abort, whatever started is shut down through
 * the normal stop path, and the node ends STOPPED.
 */
export async function startNode(steps: StartSteps): Promise<void> {
  const { lifecycle } = steps
  if (lifecycle.state !== 'INITIALIZING') {
    throw new InvalidStateTransitionError(
      lifecycle.state,
      'REGISTERING',
      'a node starts once; create a new node to run again',
    )
  }
  lifecycle.transition('REGISTERING')
  const signal =
    steps.signal === undefined ? steps.stopSignal : AbortSignal.any([steps.stopSignal, steps.signal])
  let component = 'network'
  const check = (): void => {
    if (signal.aborted)
      throw new StartAbortedError(`start of the node was aborted while starting the ${component}`)
  }
  try {
    check()
    await steps.register()
    await steps.transport.start()
    check()
    component = 'health checks'
    await steps.checkHealth()
    check()
    lifecycle.transition('ACTIVE')
    component = 'node'
    steps.activate()
  } catch (err) {
    // stop() aborted us and is already shutting down; otherwise clean up here.
    if (!steps.stopSignal.aborted) {
      steps.log.error({ err, component }, 'start failed; shutting down what was started')
      await steps.cleanUp()
    }
    if (err instanceof StartAbortedError) throw err
    throw new StartFailedError(component, err)
  }
}
