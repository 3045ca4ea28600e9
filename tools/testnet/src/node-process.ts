import type { ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { TransportInit } from '@p2p-ai/transport'
import { NODE_STOP_TIMEOUT_MS } from './constants.js'
import { HostNodeError } from './errors.js'
import type { TestHost } from './host.js'

/**
 * The transport options the host program accepts: every JSON-serialisable option of
 * `createTransport()` (see `TransportInit`), with these defaults and additions.
 */
export interface HostNodeOptions extends Omit<TransportInit, 'identity' | 'psk' | 'start'> {
  /** @default [`/ip4/0.0.0.0/tcp/0`] (loopback and the host's bridge address) */
  listen?: string[]
  /** @default { interface: host.interface } (real multicast across the bridge) */
  mdns?: NonNullable<TransportInit['mdns']>
  /** A pre-shared key in its text form (`new TextDecoder().decode(generatePsk())`). */
  psk?: string
  /** Run this many nodes with these options in the one process (a crowd of light peers). @default 1 */
  count?: number
  /** Fail if the node has not reported `ready` by then. @default 20000 */
  readyTimeoutMs?: number
}

/** One line the host program printed. */
export interface HostNodeEvent {
  event: string
  /** ms since the host program started. */
  t: number
  [key: string]: unknown
}

/** Where the compiled host program is: next to this module in dist, or dist/ when run from src. */
export function hostNodeScript(): string {
  const here = fileURLToPath(import.meta.url)
  const dir = dirname(here)
  return here.endsWith('.ts') ? join(dir, '..', 'dist', 'host-node.js') : join(dir, 'host-node.js')
}

/** A running host program inside a test host. */
export class HostNode {
  readonly host: TestHost
  readonly process: ChildProcess
  /** Everything the program reported, in order. */
  readonly events: HostNodeEvent[] = []
  peerId = ''
  addresses: string[] = []
  /** Every node of the process (one, or `count`); `peerId` is the first. */
  peerIds: string[] = []
  stderr = ''

  private readonly waiters = new Set<() => void>()
  private nextId = 1
  private exited = false

  constructor(host: TestHost, child: ChildProcess) {
    this.host = host
    this.process = child
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as HostNodeEvent)
      } catch {
        this.events.push({ event: 'unparsed', t: -1, line })
      }
      this.wake()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-8_000)
    })
    child.once('exit', () => {
      this.exited = true
      this.wake()
    })
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter()
  }

  /** Resolves with the first event (past or future) matching `predicate`. */
  async waitFor(predicate: (event: HostNodeEvent) => boolean, timeoutMs = 15_000): Promise<HostNodeEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(predicate)
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (this.exited) {
          done()
          reject(new HostNodeError(`host node in ${this.host.namespace} exited; stderr: ${this.stderr}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new HostNodeError(`host node in ${this.host.namespace}: timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Sends a command and resolves with its answer. */
  async request(command: Record<string, unknown>, timeoutMs = 15_000): Promise<HostNodeEvent> {
    const id = this.nextId++
    this.process.stdin?.write(`${JSON.stringify({ ...command, id })}\n`)
    return this.waitFor((e) => e.id === id, timeoutMs)
  }

  /** libp2p ping to a peer: `{ ok: true, rtt }` or `{ ok: false, error }`. */
  async ping(peerId: string, timeoutMs = 2_000): Promise<HostNodeEvent> {
    return this.request({ cmd: 'ping', peerId, timeoutMs }, timeoutMs + 5_000)
  }

  /** Peers the node is connected to. */
  async peers(): Promise<string[]> {
    return (await this.request({ cmd: 'peers' })).peers as string[]
  }

  /** Stops the node cleanly, or kills it after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()))
    this.process.stdin?.write(`${JSON.stringify({ cmd: 'stop' })}\n`)
    const timer = setTimeout(() => this.process.kill('SIGKILL'), NODE_STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
}

/** Starts the host program in `host` and waits for it to be ready. */
export async function startHostNode(host: TestHost, options: HostNodeOptions = {}): Promise<HostNode> {
  const { readyTimeoutMs = 20_000, ...transport } = options
  const init = {
    listen: ['/ip4/0.0.0.0/tcp/0'],
    mdns: { interface: host.interface },
    ...transport,
  }
  const child = host.spawn(process.execPath, [hostNodeScript(), JSON.stringify(init)])
  const node = new HostNode(host, child)
  try {
    const first = await node.waitFor((e) => e.event === 'ready' || e.event === 'error', readyTimeoutMs)
    if (first.event === 'error') {
      throw new HostNodeError(
        `host node in ${host.namespace} failed to start: ${String(first.code)} ${String(first.message)}`,
      )
    }
    node.peerId = String(first.peerId)
    node.addresses = first.addresses as string[]
    node.peerIds = first.peerIds as string[]
    return node
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}
