import { access, constants as fs, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import {
  LAN_INTERFACE,
  MINIUPNPD_BIN,
  NFT_BIN,
  UPNP_HTTP_PORT,
  UPNP_START_TIMEOUT_MS,
  WAN_INTERFACE,
} from './constants.js'
import { TestnetCommandError, TestnetUnavailableError } from './errors.js'
import type { TestHost } from './host.js'
import { execIn } from './nat.js'

/**
 * A home router that forwards ports on request, as many home routers do: miniupnpd (Debian's
 * `miniupnpd-nftables`), a real UPnP IGD and NAT-PMP server, runs in the router's namespace,
 * answers on the home LAN only (`lan0`), and adds its forwards to an nftables table of its own
 * there. The router's iptables rules let in what miniupnpd forwards (connections it DNATs) and
 * nothing else unsolicited. Its SSDP announcements stay on the home LAN's bridge, which has no
 * link beyond the router's namespace.
 */

/** The nftables table miniupnpd keeps its forwards in (inside the router's namespace only). */
const TABLE = 'p2pupnp'

/** The table and its chains, hooked into prerouting (DNAT) and forwarding, empty at first. */
export function upnpTable(): string {
  return `table inet ${TABLE} {
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump forward_upnp
  }
  chain forward_upnp {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_upnp
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_upnp
  }
  chain prerouting_upnp {
  }
  chain postrouting_upnp {
  }
}
`
}

/** miniupnpd's configuration: the home LAN may ask for forwards of unprivileged ports to itself. */
export function upnpConfig(lanSubnet: string): string {
  return [
    `ext_ifname=${WAN_INTERFACE}`,
    `listening_ip=${LAN_INTERFACE}`,
    `port=${UPNP_HTTP_PORT}`,
    'enable_upnp=yes',
    'enable_natpmp=yes',
    // A host may forward ports to itself only.
    'secure_mode=yes',
    'system_uptime=yes',
    `upnp_table_name=${TABLE}`,
    `upnp_nat_table_name=${TABLE}`,
    'upnp_forward_chain=forward_upnp',
    'upnp_nat_chain=prerouting_upnp',
    'upnp_nat_postrouting_chain=postrouting_upnp',
    'uuid=3c1e6b2a-7f0d-4b8e-9d3c-5a6b7c8d9e0f',
    `allow 1024-65535 ${lanSubnet} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n')
}

/** The URL of the router's UPnP device description, for a client's `gateways`. */
export function upnpGatewayUrl(gateway: string): string {
  return `http://${gateway}:${UPNP_HTTP_PORT}/rootDesc.xml`
}

/**
 * Starts miniupnpd in `router`'s namespace and resolves once it serves UPnP on the home LAN. It
 * runs until the network is destroyed.
 *
 * @throws {TestnetCommandError} when it does not come up
 */
export async function startUpnp(router: TestHost, lanSubnet: string): Promise<void> {
  await execIn(router.namespace, NFT_BIN, ['-f', '-'], upnpTable())
  const dir = await mkdtemp(join(tmpdir(), 'p2p-testnet-upnp-'))
  try {
    const config = join(dir, 'miniupnpd.conf')
    await writeFile(config, upnpConfig(lanSubnet))
    // -d: in the foreground, logging to stderr; -P: a pid file of its own (not the system's).
    const child = router.spawn(MINIUPNPD_BIN, ['-d', '-f', config, '-P', join(dir, 'miniupnpd.pid')])
    const seen: string[] = []
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer)
        reject(new TestnetCommandError([MINIUPNPD_BIN, '-d', '-f', config], `${why}\n${seen.join('\n')}`))
      }
      const timer = setTimeout(
        () => fail(`not serving within ${UPNP_START_TIMEOUT_MS} ms`),
        UPNP_START_TIMEOUT_MS,
      )
      createInterface({ input: child.stderr! }).on('line', (line) => {
        seen.push(line)
        if (/HTTP listening on port/.test(line)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => fail(`exited (${String(code)})`))
    })
    // It has read its configuration; keep draining its log so it never blocks on a full pipe.
    child.stdout?.resume()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Throws a clear error when routers cannot offer UPnP here: miniupnpd or nft is not installed.
 *
 * @throws {TestnetUnavailableError}
 */
export async function assertUpnpAvailable(): Promise<void> {
  for (const bin of [MINIUPNPD_BIN, NFT_BIN]) {
    try {
      await access(bin, fs.X_OK)
    } catch {
      throw new TestnetUnavailableError(
        `a home router with UPnP needs ${bin} (Debian: apt-get install -y miniupnpd-nftables nftables; .ci/run installs them)`,
      )
    }
  }
}
