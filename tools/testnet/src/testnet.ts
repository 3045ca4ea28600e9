import { randomInt } from 'node:crypto'
import {
  BRIDGE_INTERFACE,
  DEFAULT_HOSTS,
  DEFAULT_PREFIX,
  HOST_INTERFACE,
  MAX_HOSTS,
  SUBNET_BASE,
} from './constants.js'
import { InvalidTestnetOptionError } from './errors.js'
import { TestHost } from './host.js'
import { assertTestnetAvailable, ipBatch } from './ip.js'
import { NamespaceSet } from './namespace-set.js'
import { bridgeNamespace, checkPrefix, hostNamespace, newRunId } from './naming.js'
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

/**
 * N hosts in their own network namespaces, joined by a Linux bridge that lives in a namespace of
 * its own: nothing is added to the machine's own namespace, the subnet exists only inside, and
 * there is no route out. Dispose it (`await using`) or call `destroy()`; exit signals and process
 * exit tear it down too.
 */
export class Testnet extends NamespaceSet {
  readonly bridgeNamespace: string
  readonly subnet: string
  readonly hosts: TestHost[] = []

  constructor(runId: string, octet: number) {
    super(runId)
    this.bridgeNamespace = bridgeNamespace(runId)
    this.subnet = `${SUBNET_BASE}.${octet}.0/24`
  }

  /** All namespaces of this testnet, bridge last. */
  get namespaces(): string[] {
    return [...this.hosts.map((h) => h.namespace), this.bridgeNamespace]
  }

  /** @internal */
  async build(count: number, octet: number): Promise<void> {
    this.armTeardown()
    for (let i = 0; i < count; i++) {
      this.hosts.push(
        new TestHost(this, {
          index: i,
          namespace: hostNamespace(this.runId, i),
          address: `${SUBNET_BASE}.${octet}.${i + 1}`,
          bridgeNamespace: this.bridgeNamespace,
          bridgePort: `h${i}`,
        }),
      )
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
  const prefix = checkPrefix(init.prefix ?? DEFAULT_PREFIX)
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
