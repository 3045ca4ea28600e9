/**
 * The nodes of a run and their drivers: a requester (the node the clients use) and providers, each
 * in its own place (loopback, or a test host), with an identity made before the first start so
 * that every node's bootstrap list names every other node from the beginning, and a fixed port so
 * that a node comes back where its peers expect it.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '@p2p-ai/identity'
import { createTestnet, type Testnet } from '@p2p-ai/testnet'
import { TESTNET_PORT } from './constants.js'
import { Driver } from './driver/driver.js'
import type { DriverEvent } from './driver/protocol.js'
import { cleanEnv, roleEnv } from './environment.js'
import { ChaosHarnessError } from './errors.js'
import { ChaosNode, type NodeRole } from './node-process.js'
import type { ChaosOptions } from './options.js'
import { freePort, loopback, onHost, type Place } from './place.js'

export const REQUESTER = 'requester'

export class Cluster {
  readonly dir: string
  readonly nodes: ChaosNode[]
  readonly #drivers = new Map<string, Driver>()
  readonly #net: Testnet | undefined
  readonly #env: NodeJS.ProcessEnv
  readonly #onEvent: (node: string, event: DriverEvent) => void

  private constructor(
    dir: string,
    nodes: ChaosNode[],
    net: Testnet | undefined,
    env: NodeJS.ProcessEnv,
    onEvent: (node: string, event: DriverEvent) => void,
  ) {
    this.dir = dir
    this.nodes = nodes
    this.#net = net
    this.#env = env
    this.#onEvent = onEvent
  }

  /** Makes the places, data directories and identities; starts nothing. */
  static async create(
    dir: string,
    o: ChaosOptions,
    onEvent: (node: string, event: DriverEvent) => void,
  ): Promise<Cluster> {
    const names = [REQUESTER, ...Array.from({ length: o.providers }, (_, i) => `provider-${i + 1}`)]
    const net = o.testnet ? await createTestnet({ hosts: names.length, prefix: 'p2pchaos' }) : undefined
    const base = cleanEnv(process.env, dir)
    const nodes: ChaosNode[] = []
    try {
      for (const [i, name] of names.entries()) {
        const role: NodeRole = name === REQUESTER ? 'requester' : 'provider'
        const place: Place = net === undefined ? loopback() : onHost(net.hosts[i]!)
        const dataDir = join(dir, name)
        await mkdir(dataDir, { recursive: true, mode: 0o700 })
        const { identity } = await loadOrCreateIdentity(join(dataDir, 'identity.json'))
        nodes.push(
          new ChaosNode({
            name,
            role,
            place,
            dataDir,
            port: net === undefined ? await freePort() : TESTNET_PORT,
            peerId: identity.peerId,
            env: { ...base, ...roleEnv(role, o.shutdownDeadlineMs) },
            logFile: join(dir, `${name}.log`),
          }),
        )
      }
    } catch (err) {
      await net?.destroy()
      throw err
    }
    return new Cluster(dir, nodes, net, base, onEvent)
  }

  get requester(): ChaosNode {
    return this.node(REQUESTER)
  }

  get providers(): ChaosNode[] {
    return this.nodes.filter((n) => n.role === 'provider')
  }

  node(name: string): ChaosNode {
    const node = this.nodes.find((n) => n.name === name)
    if (node === undefined) throw new ChaosHarnessError(`no node ${name}`)
    return node
  }

  driver(name: string): Driver {
    const driver = this.#drivers.get(name)
    if (driver === undefined) throw new ChaosHarnessError(`no driver for ${name}`)
    return driver
  }

  get drivers(): Driver[] {
    return [...this.#drivers.values()]
  }

  /** Everyone else's address: a node dials them at start, and they it. */
  bootstrapFor(node: ChaosNode): string[] {
    return this.nodes.filter((n) => n !== node).map((n) => n.multiaddr)
  }

  /** Starts (or restarts) one node. */
  start(node: ChaosNode): Promise<void> {
    return node.start(this.bootstrapFor(node))
  }

  /** Starts every node, then a driver next to each. */
  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n)))
    await Promise.all(
      this.nodes.map(async (n) => {
        const driver = await Driver.start(n.place, n.name, n.dataDir, this.#env, (event) =>
          this.#onEvent(n.name, event),
        )
        this.#drivers.set(n.name, driver)
      }),
    )
  }

  /** Every pid the run started: nodes (each start) and drivers. */
  pids(): Array<{ readonly name: string; readonly pid: number }> {
    return [
      ...this.nodes.flatMap((n) => n.pids.map((pid) => ({ name: n.name, pid }))),
      ...this.drivers.flatMap((d) =>
        d.proc.pid === undefined ? [] : [{ name: `driver of ${d.name}`, pid: d.proc.pid }],
      ),
    ]
  }

  /** Kills whatever still runs and takes the test hosts down: the run's last step, whatever happened. */
  async dispose(): Promise<void> {
    for (const n of this.nodes) n.thaw()
    await Promise.all(this.nodes.map((n) => n.kill()))
    await Promise.all(this.drivers.map((d) => d.close()))
    await Promise.all(this.nodes.map((n) => n.close()))
    await this.#net?.destroy()
  }
}
