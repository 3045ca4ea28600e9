import { type ChildProcess, spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { registerTeardown, unregisterTeardown } from './cleanup.js'
import {
  BRIDGE_INTERFACE,
  DEFAULT_HOSTS,
  DEFAULT_PREFIX,
  HOST_INTERFACE,
  IP_BIN,
  MAX_HOSTS,
  SUBNET_BASE,
} from './constants.js'
import { InvalidTestnetOptionError, TestnetDestroyedError } from './errors.js'
import { assertTestnetAvailable, ip, ipBatch, ipSync } from './ip.js'
import { bridgeNamespace, hostNamespace, newRunId } from './naming.js'
import { type HostNode, type HostNodeOptions, startHostNode } from './node-process.js'
import { sweepStaleNamespaces } from './sweep.js'

export interface TestnetInit {
  /** Number of hosts. @default 2 */
  hosts?: number
  /** Namespace name prefix; stale namespaces with it are swept at creation. @default 'p2pt' */
  prefix?: string
  /** Third octet of the run's subnet 10.231.<n>.0/24. @default random in 1..254 */
  subnet?: number
  /** Delete namespaces of dead runs with the same prefix first. @default true */
  sweep?: boolean
}

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface ExecOptions {
  /** Kill the command after this long. @default 30000 */
  timeoutMs?: number
  signal?: AbortSignal
}

/** One test host: a network namespace with loopback and one veth to the bridge. */
export class TestHost {
  /** Position in `testnet.hosts`. */
  readonly index: number
  /** The network namespace, for `ip netns exec`. */
  readonly namespace: string
  /** The host's IPv4 address on the bridge, e.g. `10.231.7.1`. */
  readonly address: string
  /** The interface name inside the namespace (`tn0`): pass it as `mdns.interface`. */
  readonly interface = HOST_INTERFACE
  /** The bridge-side end of the veth; `cut()` takes it down. */
  readonly bridgePort: string

  private readonly net: Testnet

  constructor(net: Testnet, index: number, namespace: string, address: string) {
    this.net = net
    this.index = index
    this.namespace = namespace
    this.address = address
    this.bridgePort = `h${index}`
  }

  /**
   * Starts `command args…` inside the namespace. The process is tracked and killed when the
   * testnet is destroyed.
   */
  spawn(command: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    this.net.assertLive()
    // `ip netns exec` execs the command in place, so the child's pid is the command's own.
    const child = spawn(IP_BIN, ['netns', 'exec', this.namespace, command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    })
    this.net.track(child)
    return child
  }

  /** Runs a command inside the namespace to completion. */
  async exec(command: string, args: string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    const child = this.spawn(command, args)
    child.stdin?.end()
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    const onAbort = (): void => {
      child.kill('SIGKILL')
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject)
        child.once('close', resolve)
      })
      return { code, stdout, stderr }
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Starts the host program (a transport node) in this host; see `HostNodeOptions`. */
  async startNode(options: HostNodeOptions = {}): Promise<HostNode> {
    return startHostNode(this, options)
  }

  /** Pulls the cable: the bridge port goes down, the host sees no carrier. */
  async cut(): Promise<void> {
    this.net.assertLive()
    await ip(['-n', this.net.bridgeNamespace, 'link', 'set', this.bridgePort, 'down'])
  }

  /** Plugs the cable back in. */
  async restore(): Promise<void> {
    this.net.assertLive()
    await ip(['-n', this.net.bridgeNamespace, 'link', 'set', this.bridgePort, 'up'])
  }
}

/**
 * N hosts in their own network namespaces, joined by a Linux bridge that lives in a namespace of
 * its own: nothing is added to the machine's own namespace, the subnet exists only inside, and
 * there is no route out. Dispose it (`await using`) or call `destroy()`; exit signals and process
 * exit tear it down too.
 */
export class Testnet implements AsyncDisposable {
  readonly runId: string
  readonly bridgeNamespace: string
  readonly subnet: string
  readonly hosts: TestHost[] = []

  private readonly children = new Set<ChildProcess>()
  private destroyed = false
  private readonly teardown = { sync: (): void => this.destroySync() }

  constructor(runId: string, octet: number) {
    this.runId = runId
    this.bridgeNamespace = bridgeNamespace(runId)
    this.subnet = `${SUBNET_BASE}.${octet}.0/24`
  }

  /** All namespaces of this testnet, bridge last. */
  get namespaces(): string[] {
    return [...this.hosts.map((h) => h.namespace), this.bridgeNamespace]
  }

  /** @internal */
  assertLive(): void {
    if (this.destroyed) {
      throw new TestnetDestroyedError(`testnet ${this.runId} was destroyed`)
    }
  }

  /** @internal */
  track(child: ChildProcess): void {
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
  }

  /** @internal */
  async build(count: number, octet: number): Promise<void> {
    registerTeardown(this.teardown)
    for (let i = 0; i < count; i++) {
      this.hosts.push(new TestHost(this, i, hostNamespace(this.runId, i), `${SUBNET_BASE}.${octet}.${i + 1}`))
    }
    await ipBatch([`netns add ${this.bridgeNamespace}`, ...this.hosts.map((h) => `netns add ${h.namespace}`)])
    await ipBatch(
      [
        'link set lo up',
        // Without snooping the bridge floods multicast to every port, as a plain switch does.
        `link add ${BRIDGE_INTERFACE} type bridge mcast_snooping 0`,
        `link set ${BRIDGE_INTERFACE} up`,
        ...this.hosts.flatMap((h) => [
          `link add ${h.bridgePort} type veth peer name ${HOST_INTERFACE} netns ${h.namespace}`,
          `link set ${h.bridgePort} master ${BRIDGE_INTERFACE} up`,
        ]),
      ],
      this.bridgeNamespace,
    )
    await Promise.all(
      this.hosts.map(async (h) =>
        ipBatch(
          [
            'link set lo up',
            `addr add ${h.address}/24 dev ${HOST_INTERFACE}`,
            `link set ${HOST_INTERFACE} up`,
            // Multicast to the bridge for programs that do not pin an interface themselves.
            `route add 224.0.0.0/4 dev ${HOST_INTERFACE}`,
          ],
          h.namespace,
        ),
      ),
    )
  }

  /** Kills every process started in the hosts and deletes all namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) {
      return
    }
    this.destroyed = true
    await Promise.all(
      [...this.children].map(
        async (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolve()
              return
            }
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
    for (const namespace of this.namespaces) {
      await ip(['netns', 'del', namespace]).catch(() => {})
    }
    unregisterTeardown(this.teardown)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }

  private destroySync(): void {
    if (this.destroyed) {
      return
    }
    this.destroyed = true
    for (const child of this.children) {
      child.kill('SIGKILL')
    }
    for (const namespace of this.namespaces) {
      ipSync(['netns', 'del', namespace])
    }
  }
}

/**
 * Creates a testnet of `hosts` namespaces on one bridge. Needs root and iproute2.
 *
 * @throws {TestnetUnavailableError} when namespaces cannot be created here
 * @throws {InvalidTestnetOptionError}
 */
export async function createTestnet(init: TestnetInit = {}): Promise<Testnet> {
  const count = init.hosts ?? DEFAULT_HOSTS
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_HOSTS) {
    throw new InvalidTestnetOptionError(`hosts must be an integer in [1, ${MAX_HOSTS}], got ${String(count)}`)
  }
  const prefix = init.prefix ?? DEFAULT_PREFIX
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) {
    throw new InvalidTestnetOptionError(
      `prefix must be 1-12 lowercase letters and digits, got ${JSON.stringify(prefix)}`,
    )
  }
  const octet = init.subnet ?? randomInt(1, 255)
  if (!Number.isSafeInteger(octet) || octet < 1 || octet > 254) {
    throw new InvalidTestnetOptionError(`subnet must be an integer in [1, 254], got ${String(octet)}`)
  }
  await assertTestnetAvailable()
  if (init.sweep !== false) {
    await sweepStaleNamespaces(prefix)
  }
  const net = new Testnet(newRunId(prefix), octet)
  try {
    await net.build(count, octet)
  } catch (err) {
    await net.destroy()
    throw err
  }
  return net
}
