/**
 * An agent of `demo run`: a demo node (a `node start` process tied to the demo), seen through its
 * control API: its readiness, then its own events (`GET /v1/events`), kept in order with the
 * node's timestamps. The demo waits for events, kills the agent (SIGKILL) or stops it gracefully.
 */
import { readFileSync } from 'node:fs'
import { ControlClient } from '../../control/client.js'
import type { NodeEventJson } from '../../control/types.js'
import type { SpawnedNode } from '../../daemon/spawn.js'
import { DemoStepTimeoutError, NodeStartError } from '../../errors.js'
import { readToken } from '../../runtime.js'
import { startDemoNode } from '../nodes.js'

/** The agent listens: when (its clock), and what it is. */
export interface Ready {
  readonly event: 'ready'
  readonly at: number
  readonly pid: number
  readonly peerId: string
  readonly addresses: readonly string[]
  readonly taskTypes: readonly string[]
  readonly models: readonly string[]
}

/** What the demo learns of an agent: that it is ready, then the node's own events. */
export type AgentEvent = Ready | NodeEventJson

/** How an agent process ended. */
export interface AgentExit {
  readonly at: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface AgentInit {
  /** `agent-1`, `agent-2`... */
  readonly name: string
  readonly dataDir: string
  readonly serviceTag: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
}

/** Lines of an agent's log kept for error messages. */
const LOG_LINES = 20

export class AgentProcess {
  readonly name: string
  readonly spawnedAt = Date.now()
  readonly events: AgentEvent[] = []
  readonly exited: Promise<AgentExit>
  readonly #listeners = new Set<(event: AgentEvent) => void>()
  readonly #started: Promise<SpawnedNode>
  readonly #listening = new AbortController()
  #node: SpawnedNode | undefined
  #client: ControlClient | undefined
  #exit: AgentExit | undefined
  #ready: Ready | undefined
  #failure: Error | undefined

  constructor(init: AgentInit) {
    this.name = init.name
    this.#started = startDemoNode({ ...init, mode: 'attached' })
    this.exited = this.#started.then(
      (node) =>
        new Promise<AgentExit>((resolve) => {
          const done = (code: number | null, signal: NodeJS.Signals | null): void => {
            this.#exit = { at: Date.now(), code, signal }
            this.#listening.abort()
            resolve(this.#exit)
          }
          if (node.child.exitCode !== null || node.child.signalCode !== null)
            done(node.child.exitCode, node.child.signalCode)
          else node.child.once('exit', done)
        }),
      (err: unknown) => {
        this.#failure = err as Error
        this.#exit = { at: Date.now(), code: null, signal: null }
        return this.#exit
      },
    )
    void this.#follow(init.dataDir)
  }

  /** Waits for the node to be ready, then records its events until it exits. */
  async #follow(dataDir: string): Promise<void> {
    let node: SpawnedNode
    try {
      node = await this.#started
      this.#node = node
      const { status, url } = await node.ready
      this.#emit({
        event: 'ready',
        at: Date.now(),
        pid: status.pid,
        peerId: status.peerId,
        addresses: status.addresses,
        taskTypes: status.capabilities.taskTypes,
        models: status.capabilities.models,
      })
      this.#client = new ControlClient({ url, token: await readToken(dataDir), pid: status.pid, dataDir })
    } catch (err) {
      this.#failure ??= err as Error
      this.#emitFailure()
      return
    }
    try {
      const stream = this.#client.events({ signal: this.#listening.signal })
      const first = stream.next()
      // Peers it met before the stream opened, with the time it met them.
      const seen = await this.#client.peers({ timeoutMs: 5000 }).catch(() => [])
      for (const p of seen) {
        if (p.status === 'connected')
          this.#emit({ event: 'peer:connect', at: p.connectedAt, peerId: p.peerId })
      }
      let next = await first
      while (next.done !== true) {
        this.#emit(next.value)
        next = await stream.next()
      }
    } catch {
      // The node went away: its exit tells how.
    }
  }

  get pid(): number | undefined {
    return this.#ready?.pid ?? this.#node?.child.pid
  }

  /** The `ready` event, once the agent listens. */
  get ready(): Ready | undefined {
    return this.#ready
  }

  get peerId(): string | undefined {
    return this.#ready?.peerId
  }

  get exit(): AgentExit | undefined {
    return this.#exit
  }

  get running(): boolean {
    return this.#exit === undefined
  }

  /** The last lines of the agent's log. */
  get logTail(): string {
    if (this.#node === undefined) return ''
    try {
      return readFileSync(this.#node.logFile, 'utf8').trimEnd().split('\n').slice(-LOG_LINES).join('\n')
    } catch {
      return ''
    }
  }

  /** Calls `listener` for every event from now on; returns the function that removes it. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #emit(event: AgentEvent): void {
    if (event.event === 'ready') this.#ready = event
    // One connect per peer from the snapshot and the stream together.
    if (
      event.event === 'peer:connect' &&
      this.events.some((e) => e.event === 'peer:connect' && e.peerId === event.peerId && e.at === event.at)
    )
      return
    this.events.push(event)
    for (const listener of this.#listeners) listener(event)
  }

  #failed = new Set<() => void>()

  #emitFailure(): void {
    for (const f of this.#failed) f()
  }

  /** Resolves with the agent's `ready` event; rejects if it fails to start or takes longer than `timeoutMs`. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<Ready> {
    if (this.#ready !== undefined) return this.#ready
    return new Promise<Ready>((resolve, reject) => {
      const done = (fn: () => void): void => {
        clearTimeout(timer)
        off()
        this.#failed.delete(onFailure)
        signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const fail = (why: string): void => {
        const log = this.logTail.trim()
        done(() => reject(new NodeStartError(`${this.name} ${why}${log === '' ? '' : `:\n${log}`}`)))
      }
      const off = this.onEvent((event) => {
        if (event.event === 'ready') done(() => resolve(event))
      })
      const onFailure = (): void => fail(`did not start: ${this.#failure?.message ?? 'it exited'}`)
      this.#failed.add(onFailure)
      if (this.#failure !== undefined) onFailure()
      const timer = setTimeout(() => fail(`did not start within ${timeoutMs / 1000} s`), timeoutMs)
      const onAbort = (): void => done(() => reject(signal?.reason))
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** SIGKILL: the process ends at once, without a goodbye to its peers. */
  kill(): void {
    const child = this.#node?.child
    if (this.running && child !== undefined) child.kill('SIGKILL')
    else if (this.running)
      void this.#started.then(
        (n) => n.child.kill('SIGKILL'),
        () => {},
      )
  }

  /**
   * Graceful stop (the node says goodbye to its peers and finishes its tasks), then SIGKILL if it
   * takes longer than `timeoutMs`. Resolves with how it ended.
   */
  async stop(timeoutMs: number): Promise<{ graceful: boolean; exit: AgentExit }> {
    if (!this.running) return { graceful: false, exit: await this.exited }
    const timer = setTimeout(() => this.kill(), timeoutMs)
    try {
      await this.#client?.shutdown({ timeoutMs: 3000 })
    } catch {
      // Not answering: the timer ends it.
    }
    // Without a client (it never got ready), closing the channel stops it.
    if (this.#client === undefined && this.#node?.child.connected === true) this.#node.child.disconnect()
    const exit = await this.exited
    clearTimeout(timer)
    return { graceful: exit.code === 0 && exit.signal === null, exit }
  }
}

/** Waits for `condition` to hold, checking it whenever `wake` is called or every `pollMs`. */
export function waitUntil(
  condition: () => boolean,
  options: { timeoutMs: number; what: string; signal?: AbortSignal; pollMs?: number },
): { promise: Promise<void>; wake: () => void } {
  let wake: () => void = () => {}
  const promise = new Promise<void>((resolve, reject) => {
    const finish = (err?: unknown): void => {
      clearTimeout(timer)
      clearInterval(poll)
      options.signal?.removeEventListener('abort', onAbort)
      wake = () => {}
      if (err === undefined) resolve()
      else reject(err)
    }
    const check = (): void => {
      if (condition()) finish()
    }
    const onAbort = (): void => finish(options.signal?.reason)
    const timer = setTimeout(
      () =>
        finish(
          new DemoStepTimeoutError(`${options.what} did not happen within ${options.timeoutMs / 1000} s`),
        ),
      options.timeoutMs,
    )
    const poll = setInterval(check, options.pollMs ?? 50)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    wake = check
    check()
  })
  return { promise, wake: () => wake() }
}
