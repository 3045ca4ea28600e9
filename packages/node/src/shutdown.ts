import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_CANCEL_GRACE_MS, type ResultStore, type TaskEngine, type TaskRecord } from '@p2p-ai/engine'
import type { Signer } from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import { sayGoodbye } from './announce/goodbye.js'
import { GOODBYE_TIMEOUT_MS, TRANSPORT_STOP_RESERVE_MS } from './constants.js'
import type { ContentService } from './content/types.js'
import type { TaskExchange } from './exchange/index.js'
import type { Lifecycle } from './lifecycle.js'
import type { Logger } from './logger.js'

/** What a graceful shutdown did. */
export interface ShutdownReport {
  /** How long the shutdown took, in milliseconds. */
  readonly durationMs: number
  readonly deadlineMs: number
  /** False if some component was still closing at the deadline (it was left behind). */
  readonly withinDeadline: boolean
  /** Tasks that finished during the shutdown (they were running when it began). */
  readonly tasksFinished: number
  /**
   * Tasks cut short: queued ones at once, running ones at the deadline, this node's own and those
   * it ran for peers.
   */
  readonly tasksCancelled: number
  /** Peers that acknowledged our goodbye (they dropped us from their tables). */
  readonly peersNotified: readonly string[]
  /** Peers that did not acknowledge in time; they will notice the closed connection instead. */
  readonly peersNotAcknowledged: readonly string[]
  /** Whether the result stores (the engine's and that of submitted tasks) are closed. */
  readonly storeClosed: boolean
  /** Components that failed to close cleanly. */
  readonly errors: ReadonlyArray<{
    readonly component: string
    readonly code?: string
    readonly message: string
  }>
}

export interface ShutdownInit {
  readonly lifecycle: Lifecycle
  /** A start in progress, waited for (within the deadline) before shutting down. */
  readonly starting: Promise<void> | undefined
  readonly deadlineMs: number
  readonly signal: AbortSignal | undefined
  readonly signer: Signer
  readonly transport: Transport
  readonly engine: TaskEngine
  /** Refuses new requests at once; the node's own tasks get the drain to finish. */
  readonly exchange: TaskExchange
  /** The content plug-in: stops serving blocks before the transport closes. */
  readonly content?: ContentService
  /** The store of submitted tasks' records, closed after the engine (its local runs write to it). */
  readonly submittedStore?: ResultStore
  /** `node.jobs`: running jobs stop first (they are resumed at the next start), then their store closes. */
  readonly jobs?: { stop(): Promise<void> }
  readonly jobStore?: { close(): void; readonly closed: boolean }
  readonly log: Logger
  /** The engine's `cancelGraceMs`, kept free at the end of the drain. */
  readonly cancelGraceMs?: number
}

/**
 * SHUTTING_DOWN → STOPPED within the deadline: goodbye to peers first (so they stop sending
 * work at once), then the engine drains until what is left of the deadline minus the time
 * needed to close the transport, cancels what still runs and closes the store; then the
 * transport closes every connection. A component that overruns its share is left behind and
 * reported, so the deadline holds whatever happens.
 */
export async function shutdown(init: ShutdownInit): Promise<ShutdownReport> {
  const { lifecycle, transport, engine, log, deadlineMs } = init
  const t0 = performance.now()
  const remaining = (): number => Math.max(0, deadlineMs - (performance.now() - t0))
  const errors: Array<{ component: string; code?: string; message: string }> = []
  let withinDeadline = true
  const fail = (component: string, err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown }
    const message = typeof e?.message === 'string' ? e.message : String(err)
    errors.push(typeof e?.code === 'string' ? { component, code: e.code, message } : { component, message })
    log.error({ err, component }, `${component} did not close cleanly`)
  }
  /** Waits for `work` at most `ms`; true if it settled in time. */
  const within = async (component: string, work: Promise<unknown>, ms: number): Promise<boolean> => {
    const timer = new AbortController()
    const result = await Promise.race([
      work.then(
        () => 'done' as const,
        (err: unknown) => {
          fail(component, err)
          return 'done' as const
        },
      ),
      sleep(ms, 'late' as const, { signal: timer.signal }).catch(() => 'done' as const),
    ])
    timer.abort()
    if (result === 'late') {
      withinDeadline = false
      log.warn({ component, ms: Math.round(ms) }, `${component} did not close in time; leaving it behind`)
    }
    return result === 'done'
  }

  if (init.starting !== undefined)
    await within(
      'start',
      init.starting.catch(() => {}),
      remaining(),
    )
  if (lifecycle.state !== 'SHUTTING_DOWN' && lifecycle.state !== 'STOPPED')
    lifecycle.transition('SHUTTING_DOWN')
  log.info({ deadlineMs }, 'shutting down')
  // Jobs first: they stop sending, cancel their tasks out and commit what arrived, so the exchange's
  // drain below is not spent on work a resumed job sends again anyway.
  if (init.jobs !== undefined) await within('jobs', init.jobs.stop(), remaining() * 0.25)
  const transportReserve = Math.min(TRANSPORT_STOP_RESERVE_MS, deadlineMs * 0.15)
  const drainMs = (): number =>
    Math.max(0, remaining() - transportReserve - (init.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS))
  // New requests from peers are refused from now on (ERR_SHUTTING_DOWN); the node's own tasks
  // still running elsewhere get the same drain as the engine's.
  const exchangeStop = init.exchange.stop({ drainMs: init.signal?.aborted === true ? 0 : drainMs() })

  let notified: string[] = []
  let notAcknowledged: string[] = []
  if (transport.status === 'started') {
    const budget = Math.min(GOODBYE_TIMEOUT_MS, deadlineMs * 0.15, remaining())
    try {
      const r = await sayGoodbye(
        transport.getConnections(),
        init.signer,
        'shutdown',
        AbortSignal.timeout(budget),
        log,
      )
      notified = r.notified
      notAcknowledged = r.failed
    } catch (err) {
      fail('goodbye', err)
    }
  }

  let tasksFinished = 0
  let tasksCancelled = 0
  const onFinished = (evt: CustomEvent<TaskRecord>): void => {
    // The node's own tasks are counted by the exchange, wherever they ran.
    if (evt.detail.meta?.requester === init.signer.peerId) return
    if (evt.detail.status === 'CANCELLED') tasksCancelled++
    else tasksFinished++
  }
  engine.addEventListener('task:finished', onFinished)
  const drain = Math.floor(drainMs())
  const engineStop = engine.stop(
    init.signal === undefined ? { timeoutMs: drain } : { timeoutMs: drain, signal: init.signal },
  )
  await within('engine', engineStop, remaining() - transportReserve)
  engine.removeEventListener('task:finished', onFinished)
  // Before the stores close: the final records of the node's own tasks go to the submitted store.
  await within(
    'exchange',
    exchangeStop.then((r) => {
      tasksCancelled += r.tasksCancelled
    }),
    remaining() - transportReserve,
  )
  if (init.submittedStore !== undefined) {
    try {
      init.submittedStore.close()
    } catch (err) {
      fail('submitted store', err)
    }
  }
  if (init.jobStore !== undefined) {
    try {
      init.jobStore.close()
    } catch (err) {
      fail('job store', err)
    }
  }
  const storeClosed =
    (engine.store?.closed ?? true) && (init.submittedStore?.closed ?? true) && (init.jobStore?.closed ?? true)
  if (init.content !== undefined) await within('content', init.content.stop(), remaining() - transportReserve)

  if (transport.status === 'started' || transport.status === 'starting') {
    await within('transport', Promise.resolve(transport.stop()), remaining())
  }
  lifecycle.transition('STOPPED')
  const durationMs = Math.round(performance.now() - t0)
  log.info({ durationMs, tasksFinished, tasksCancelled, peersNotified: notified.length }, 'stopped')
  return {
    durationMs,
    deadlineMs,
    withinDeadline,
    tasksFinished,
    tasksCancelled,
    peersNotified: notified,
    peersNotAcknowledged: notAcknowledged,
    storeClosed,
    errors,
  }
}
