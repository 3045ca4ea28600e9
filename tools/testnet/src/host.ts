import { type ChildProcess, spawn } from 'node:child_process'
import { HOST_INTERFACE, IP_BIN } from './constants.js'
import { ip } from './ip.js'
import type { NamespaceSet } from './namespace-set.js'
import { type HostNode, type HostNodeOptions, startHostNode } from './node-process.js'

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Bytes and packets through a host's interface since it was created (kernel counters). */
export interface LinkTraffic {
  rxBytes: number
  txBytes: number
  rxPackets: number
  txPackets: number
}

export interface ExecOptions {
  /** Kill the command after this long. @default 30000 */
  timeoutMs?: number
  signal?: AbortSignal
}

/** Where a host sits: its namespace, address and the bridge port its cable plugs into. */
export interface TestHostInit {
  index: number
  namespace: string
  address: string
  /** The namespace of the bridge the host's veth is a port of. */
  bridgeNamespace: string
  /** The bridge-side end of the host's veth. */
  bridgePort: string
  /** The host's end of the veth. @default 'tn0' */
  interface?: string
}

/** One test host: a network namespace with loopback and one veth to a bridge. */
export class TestHost {
  /** Position in its network's host list. */
  readonly index: number
  /** The network namespace, for `ip netns exec`. */
  readonly namespace: string
  /** The host's IPv4 address, e.g. `10.231.7.1`, `11.8.1.1` (public) or `10.201.1.2` (home). */
  readonly address: string
  /** The interface name inside the namespace (`tn0`; `wan0` on a router): pass it as `mdns.interface`. */
  readonly interface: string
  /** The bridge-side end of the veth; `cut()` takes it down. */
  readonly bridgePort: string
  /** The namespace holding the bridge this host is plugged into. */
  readonly bridgeNamespace: string

  private readonly net: NamespaceSet

  constructor(net: NamespaceSet, init: TestHostInit) {
    this.net = net
    this.index = init.index
    this.namespace = init.namespace
    this.address = init.address
    this.bridgeNamespace = init.bridgeNamespace
    this.bridgePort = init.bridgePort
    this.interface = init.interface ?? HOST_INTERFACE
  }

  /**
   * Starts `command args…` inside the namespace. The process is tracked and killed when the
   * network is destroyed.
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

  /**
   * The kernel's counters of the host's interface (`ip -s link`, inside its namespace): everything
   * its programs sent and received, whatever the protocol, for traffic measurements.
   */
  async traffic(): Promise<LinkTraffic> {
    this.net.assertLive()
    const out = await ip(['-n', this.namespace, '-s', '-j', 'link', 'show', 'dev', this.interface])
    const [link] = JSON.parse(out) as Array<{
      stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } }
    }>
    if (link === undefined) throw new Error(`no interface ${this.interface} in ${this.namespace}`)
    const { rx, tx } = link.stats64
    return { rxBytes: rx.bytes, txBytes: tx.bytes, rxPackets: rx.packets, txPackets: tx.packets }
  }

  /** Pulls the cable: the bridge port goes down, the host sees no carrier. */
  async cut(): Promise<void> {
    this.net.assertLive()
    await ip(['-n', this.bridgeNamespace, 'link', 'set', this.bridgePort, 'down'])
  }

  /** Plugs the cable back in. */
  async restore(): Promise<void> {
    this.net.assertLive()
    await ip(['-n', this.bridgeNamespace, 'link', 'set', this.bridgePort, 'up'])
  }
}
