/**
 * What a node's alerts are evaluated on: peers from the peer directory, memory from the operating
 * system, the task failure rate from the outcomes of the tasks submitted here and served here,
 * event loop delay from Node's own monitor, the queue from the engine.
 */
import { freemem, totalmem } from 'node:os'
import type { TaskEngine, TaskRecord } from '@p2p-ai/engine'
import type { TaskDone } from '../exchange/events.js'
import type { TaskExchange } from '../exchange/exchange.js'
import type { PeerDirectory } from '../peers/directory.js'
import { FailureWindow } from './failure-window.js'
import { type LoopDelay, loopDelay } from './loop-delay.js'
import type { AlertReadings, AlertsConfig } from './rules.js'

export interface NodeReadingsInit {
  self: string
  directory: PeerDirectory
  engine: TaskEngine
  exchange: TaskExchange
  /** `engine.maxQueueLength`. */
  maxQueueLength: number
  config: AlertsConfig
  /** @default Date.now */
  now?: () => number
}

/** Reads a node's facts for its alerts; listens to task outcomes only between `start` and `stop`. */
export class NodeReadings {
  readonly #init: NodeReadingsInit
  readonly #failures: FailureWindow
  #minTasks: number
  #loopDelay: LoopDelay | undefined
  #listening = false

  constructor(init: NodeReadingsInit) {
    this.#init = init
    this.#failures = new FailureWindow(init.config.taskFailureWindowMs, init.now)
    this.#minTasks = init.config.taskFailureMinTasks
  }

  start(): void {
    if (this.#listening) return
    this.#listening = true
    this.#init.exchange.addEventListener('task:done', this.#onDone)
    this.#init.engine.addEventListener('task:finished', this.#onServed)
    this.#loopDelay = loopDelay()
  }

  stop(): void {
    if (!this.#listening) return
    this.#listening = false
    this.#init.exchange.removeEventListener('task:done', this.#onDone)
    this.#init.engine.removeEventListener('task:finished', this.#onServed)
    this.#loopDelay?.release()
    this.#loopDelay = undefined
  }

  /** New window settings; whether to listen at all is `start` and `stop`. */
  configure(config: AlertsConfig): void {
    this.#failures.resize(config.taskFailureWindowMs)
    this.#minTasks = config.taskFailureMinTasks
  }

  read(): AlertReadings {
    const { directory, engine, maxQueueLength } = this.#init
    const total = totalmem()
    const { finished, failed } = this.#failures.counts()
    return {
      peers: directory.connectedCount,
      memoryPercent: total > 0 ? ((total - freemem()) / total) * 100 : 0,
      taskFailurePercent: finished >= this.#minTasks ? (failed / finished) * 100 : undefined,
      eventLoopLagMs: this.#loopDelay?.read() ?? 0,
      queuePercent: (engine.load().queued / maxQueueLength) * 100,
    }
  }

  readonly #onDone = (evt: CustomEvent<TaskDone>): void => {
    this.#count(evt.detail.record.status)
  }

  /** Tasks run here for peers; this node's own local runs arrive as `task:done` already. */
  readonly #onServed = (evt: CustomEvent<TaskRecord>): void => {
    const requester = evt.detail.meta?.requester
    if (requester !== undefined && requester !== this.#init.self) this.#count(evt.detail.status)
  }

  #count(status: string): void {
    // A cancellation is somebody's wish, not a failure of the swarm.
    if (status === 'CANCELLED') return
    this.#failures.record(status === 'FAILED' || status === 'TIMEOUT')
  }
}
