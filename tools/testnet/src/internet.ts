import {
  BRIDGE_INTERFACE,
  DEFAULT_PREFIX,
  HOME_PREFIX,
  HOST_INTERFACE,
  LAN_INTERFACE,
  MAX_HOMES,
  MAX_HOSTS_PER_HOME,
  MAX_PUBLIC_HOSTS,
  PUBLIC_HOSTS_OCTET,
  PUBLIC_PREFIX,
  ROUTERS_OCTET,
  WAN_INTERFACE,
} from './constants.js'
import { InvalidTestnetOptionError } from './errors.js'
import { TestHost } from './host.js'
import { assertTestnetAvailable, ipBatch } from './ip.js'
import { NamespaceSet } from './namespace-set.js'
import {
  bridgeNamespace,
  checkPrefix,
  homeHostNamespace,
  hostNamespace,
  newRunId,
  routerNamespace,
} from './naming.js'
import { assertNatAvailable, configureRouter, NAT_KINDS, type NatKind } from './nat.js'
import { sweepStaleNamespaces } from './sweep.js'
import { assertUpnpAvailable, startUpnp, upnpGatewayUrl } from './upnp.js'

/** One home network of `createInternet()`. */
export interface HomeInit {
  /** How its router translates addresses; see `NatKind`. @default 'cone' */
  nat?: NatKind
  /** Hosts on its LAN. @default 1 */
  hosts?: number
  /**
   * Its router forwards ports on request (UPnP IGD and NAT-PMP, by miniupnpd), as many home
   * routers do. Needs miniupnpd and nft (Debian: miniupnpd-nftables, nftables). @default false
   */
  upnp?: boolean
}

export interface InternetInit {
  /** Hosts on the public segment, 11.8.1.1 upwards. @default 1 */
  publicHosts?: number
  /** Home networks, each behind its own NAT router. @default [] */
  homes?: HomeInit[]
  /** Namespace name prefix; stale namespaces with it are swept at creation. @default 'p2pt' */
  prefix?: string
  /** Delete namespaces of dead runs with the same prefix first. @default true */
  sweep?: boolean
}

/** A home network: a router doing NAT between the public segment and a LAN bridge with hosts. */
export interface HomeNetwork {
  /** Position in `internet.homes`. */
  readonly index: number
  readonly nat: NatKind
  /** The home LAN, `10.201.<index + 1>.0/24`. */
  readonly subnet: string
  /**
   * The router, a host on the public segment: its `address` is the public address every home
   * host's traffic leaves with, its `interface` is `wan0`, and `cut()` unplugs the home.
   */
  readonly router: TestHost
  /** The router's LAN address, the hosts' default gateway. */
  readonly gateway: string
  /** The hosts behind the router (`tn0` on the LAN bridge); `cut()` unplugs one from the LAN. */
  readonly hosts: TestHost[]
  /** With `upnp`: the URL of the router's UPnP device description (a client's `gateways`). */
  readonly upnp?: string
}

/**
 * A small simulated internet, in network namespaces only: a public segment (a bridge in its own
 * namespace) with public hosts on 11.8.1.0/24 and home routers' WAN sides on 11.8.2.0/24, all in
 * one 11.8.0.0/16 with no route anywhere else; and home networks 10.201.N.0/24, each behind a
 * router namespace that NATs with iptables (cone or symmetric, see `NatKind`). Nothing is created
 * in, routed to or reachable from the machine's own namespace; the iptables rules live in the
 * routers' namespaces and vanish with them.
 */
export class Internet extends NamespaceSet {
  /** The namespace of the public segment's bridge. */
  readonly bridgeNamespace: string
  readonly publicHosts: TestHost[] = []
  readonly homes: HomeNetwork[] = []

  constructor(runId: string) {
    super(runId)
    this.bridgeNamespace = bridgeNamespace(runId)
  }

  /** Every host that can run programs: public hosts first, then each home's hosts (not routers). */
  get hosts(): TestHost[] {
    return [...this.publicHosts, ...this.homes.flatMap((home) => home.hosts)]
  }

  /** All namespaces: home hosts, routers, public hosts, then the public bridge. */
  get namespaces(): string[] {
    return [
      ...this.homes.flatMap((home) => home.hosts.map((h) => h.namespace)),
      ...this.homes.map((home) => home.router.namespace),
      ...this.publicHosts.map((h) => h.namespace),
      this.bridgeNamespace,
    ]
  }

  /** @internal */
  async build(publicCount: number, homes: Array<Required<HomeInit>>): Promise<void> {
    this.armTeardown()
    for (let i = 0; i < publicCount; i++) {
      this.publicHosts.push(
        new TestHost(this, {
          index: i,
          namespace: hostNamespace(this.runId, i),
          address: `${PUBLIC_PREFIX}.${PUBLIC_HOSTS_OCTET}.${i + 1}`,
          bridgeNamespace: this.bridgeNamespace,
          bridgePort: `h${i}`,
        }),
      )
    }
    homes.forEach((init, j) => {
      const routerNs = routerNamespace(this.runId, j)
      const lan = `${HOME_PREFIX}.${j + 1}`
      const router = new TestHost(this, {
        index: j,
        namespace: routerNs,
        address: `${PUBLIC_PREFIX}.${ROUTERS_OCTET}.${j + 1}`,
        bridgeNamespace: this.bridgeNamespace,
        bridgePort: `r${j}`,
        interface: WAN_INTERFACE,
      })
      const hosts = Array.from(
        { length: init.hosts },
        (_, k) =>
          new TestHost(this, {
            index: k,
            namespace: homeHostNamespace(this.runId, j, k),
            address: `${lan}.${k + 2}`,
            bridgeNamespace: routerNs,
            bridgePort: `h${k}`,
          }),
      )
      this.homes.push({
        index: j,
        nat: init.nat,
        subnet: `${lan}.0/24`,
        router,
        gateway: `${lan}.1`,
        hosts,
        ...(init.upnp ? { upnp: upnpGatewayUrl(`${lan}.1`) } : {}),
      })
    })

    await ipBatch([
      `netns add ${this.bridgeNamespace}`,
      ...this.namespaces.slice(0, -1).map((ns) => `netns add ${ns}`),
    ])
    await ipBatch(
      [
        'link set lo up',
        `link add ${BRIDGE_INTERFACE} type bridge mcast_snooping 0`,
        `link set ${BRIDGE_INTERFACE} up`,
        ...[...this.publicHosts, ...this.homes.map((home) => home.router)].flatMap((h) => [
          `link add ${h.bridgePort} type veth peer name ${h.interface} netns ${h.namespace}`,
          `link set ${h.bridgePort} master ${BRIDGE_INTERFACE} up`,
        ]),
      ],
      this.bridgeNamespace,
    )
    await Promise.all([
      ...this.publicHosts.map(async (h) =>
        ipBatch(
          [
            'link set lo up',
            // One /16, all on-link: the public hosts and routers reach each other and nothing else.
            `addr add ${h.address}/16 dev ${HOST_INTERFACE}`,
            `link set ${HOST_INTERFACE} up`,
            `route add 224.0.0.0/4 dev ${HOST_INTERFACE}`,
          ],
          h.namespace,
        ),
      ),
      ...this.homes.map(async (home) => this.buildHome(home)),
    ])
  }

  private async buildHome(home: HomeNetwork): Promise<void> {
    const { router } = home
    await ipBatch(
      [
        'link set lo up',
        `addr add ${router.address}/16 dev ${WAN_INTERFACE}`,
        `link set ${WAN_INTERFACE} up`,
        `link add ${LAN_INTERFACE} type bridge mcast_snooping 0`,
        `addr add ${home.gateway}/24 dev ${LAN_INTERFACE}`,
        `link set ${LAN_INTERFACE} up`,
        ...home.hosts.flatMap((h) => [
          `link add ${h.bridgePort} type veth peer name ${HOST_INTERFACE} netns ${h.namespace}`,
          `link set ${h.bridgePort} master ${LAN_INTERFACE} up`,
        ]),
      ],
      router.namespace,
    )
    await configureRouter(router.namespace, home.nat, home.upnp !== undefined)
    await Promise.all(
      home.hosts.map(async (h) =>
        ipBatch(
          [
            'link set lo up',
            `addr add ${h.address}/24 dev ${HOST_INTERFACE}`,
            `link set ${HOST_INTERFACE} up`,
            `route add default via ${home.gateway} dev ${HOST_INTERFACE}`,
            // mDNS stays on the home LAN: the router forwards no multicast.
            `route add 224.0.0.0/4 dev ${HOST_INTERFACE}`,
          ],
          h.namespace,
        ),
      ),
    )
    if (home.upnp !== undefined) await startUpnp(router, home.subnet)
  }
}

/**
 * Creates a simulated internet: `publicHosts` public hosts and the given home networks behind
 * NAT routers. Needs root, iproute2 and iptables.
 *
 * ```ts
 * await using net = await createInternet({ publicHosts: 2, homes: [{ nat: 'cone' }, { nat: 'symmetric' }] })
 * const seed = await net.publicHosts[0].startNode({ mdns: false })
 * const home = await net.homes[0].hosts[0].startNode({ mdns: false, bootstrap: seed.addresses })
 * ```
 *
 * @throws {TestnetUnavailableError} when namespaces or NAT cannot be set up here
 * @throws {InvalidTestnetOptionError}
 */
export async function createInternet(init: InternetInit = {}): Promise<Internet> {
  const publicCount = init.publicHosts ?? 1
  if (!Number.isSafeInteger(publicCount) || publicCount < 0 || publicCount > MAX_PUBLIC_HOSTS) {
    throw new InvalidTestnetOptionError(
      `publicHosts must be an integer in [0, ${MAX_PUBLIC_HOSTS}], got ${String(publicCount)}`,
    )
  }
  const homesInit = init.homes ?? []
  if (!Array.isArray(homesInit) || homesInit.length > MAX_HOMES) {
    throw new InvalidTestnetOptionError(`homes must be an array of at most ${MAX_HOMES} home networks`)
  }
  const homes = homesInit.map((home, j): Required<HomeInit> => {
    const nat = home.nat ?? 'cone'
    if (!NAT_KINDS.includes(nat)) {
      throw new InvalidTestnetOptionError(`homes[${j}].nat must be 'cone' or 'symmetric', got ${String(nat)}`)
    }
    const hosts = home.hosts ?? 1
    if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS_PER_HOME) {
      throw new InvalidTestnetOptionError(
        `homes[${j}].hosts must be an integer in [1, ${MAX_HOSTS_PER_HOME}], got ${String(hosts)}`,
      )
    }
    if (home.upnp !== undefined && typeof home.upnp !== 'boolean') {
      throw new InvalidTestnetOptionError(`homes[${j}].upnp must be true or false, got ${String(home.upnp)}`)
    }
    return { nat, hosts, upnp: home.upnp ?? false }
  })
  const prefix = checkPrefix(init.prefix ?? DEFAULT_PREFIX)
  await assertTestnetAvailable()
  if (homes.length > 0) {
    await assertNatAvailable()
  }
  if (homes.some((home) => home.upnp)) {
    await assertUpnpAvailable()
  }
  if (init.sweep !== false) {
    await sweepStaleNamespaces(prefix)
  }
  const net = new Internet(newRunId(prefix))
  try {
    await net.build(publicCount, homes)
  } catch (err) {
    await net.destroy()
    throw err
  }
  return net
}
