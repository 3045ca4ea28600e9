import { BlockList, isIPv4 } from 'node:net'
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os'
import { UnknownInterfaceError } from './errors.js'

/**
 * Where mDNS runs:
 * - `'lan'`: every non-loopback IPv4 interface, re-scanned as interfaces come and go (a real node);
 * - `'loopback'`: the loopback interface only (tests and demos on one machine; nothing leaves it);
 * - an interface name (`'eth1'`, `'veth-a'`) or one of its IPv4 addresses: that interface only.
 */
export type MdnsInterfaceSelector = 'lan' | 'loopback' | (string & {})

/** One network interface mDNS sends and listens on. */
export interface MdnsInterface {
  /** OS name, e.g. `lo`, `eth0`. */
  readonly name: string
  /** The IPv4 address used for multicast membership and as the outgoing multicast interface. */
  readonly address: string
  readonly internal: boolean
  /** IPv4 subnets of this interface as [network, mask] (checked on every datagram: kept cheap). */
  readonly ipv4Subnets: ReadonlyArray<readonly [number, number]>
  /** IPv6 subnets of this interface. Only peers and addresses inside the subnets are accepted. */
  readonly ipv6Subnets: BlockList
  /** Stable key: interfaces with the same key need no new socket. */
  readonly key: string
}

type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>

function toMdnsInterface(name: string, infos: NetworkInterfaceInfo[]): MdnsInterface | undefined {
  const ipv4 = infos.find((info) => info.family === 'IPv4')
  if (ipv4 === undefined) {
    return undefined
  }
  const ipv4Subnets: Array<readonly [number, number]> = []
  const ipv6Subnets = new BlockList()
  const keyParts: string[] = [name]
  for (const info of infos) {
    const prefix = prefixLength(info)
    if (prefix === undefined) {
      continue
    }
    if (info.family === 'IPv4') {
      ipv4Subnets.push(ipv4Subnet(info.address, prefix))
    } else {
      ipv6Subnets.addSubnet(info.address, prefix, 'ipv6')
    }
    keyParts.push(`${info.address}/${prefix}`)
  }
  if (ipv4.internal) {
    // The whole 127/8 is loopback on Linux, whatever netmask the OS reports for lo.
    ipv4Subnets.push(ipv4Subnet('127.0.0.0', 8))
  }
  return {
    name,
    address: ipv4.address,
    internal: ipv4.internal,
    ipv4Subnets,
    ipv6Subnets,
    key: keyParts.join(','),
  }
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number, or -1 when it is not one. */
export function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.')
  if (parts.length !== 4) {
    return -1
  }
  let value = 0
  for (const part of parts) {
    const octet = Number(part)
    if (part === '' || !Number.isInteger(octet) || octet < 0 || octet > 255) {
      return -1
    }
    value = value * 256 + octet
  }
  return value
}

function ipv4Subnet(address: string, prefix: number): readonly [number, number] {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return [(ipv4ToNumber(address) & mask) >>> 0, mask]
}

function prefixLength(info: NetworkInterfaceInfo): number | undefined {
  const cidr = info.cidr
  if (cidr === null) {
    return undefined
  }
  const prefix = Number(cidr.slice(cidr.lastIndexOf('/') + 1))
  return Number.isInteger(prefix) ? prefix : undefined
}

function ipv4Names(table: InterfaceTable): string[] {
  return Object.entries(table)
    .filter(([, infos]) => infos?.some((info) => info.family === 'IPv4') === true)
    .map(([name]) => name)
}

/**
 * Resolves a selector to the interfaces to use right now. `'lan'` may resolve to none (a machine
 * without network yet); a name or address that matches nothing is a configuration error.
 *
 * @throws {UnknownInterfaceError}
 */
export function resolveInterfaces(
  selector: MdnsInterfaceSelector,
  table: InterfaceTable = networkInterfaces(),
): MdnsInterface[] {
  const entries = Object.entries(table).filter((entry): entry is [string, NetworkInterfaceInfo[]] => {
    return entry[1] !== undefined
  })
  if (selector === 'lan') {
    return entries
      .filter(([, infos]) => infos.some((info) => info.family === 'IPv4' && !info.internal))
      .map(([name, infos]) => toMdnsInterface(name, infos))
      .filter((iface): iface is MdnsInterface => iface !== undefined && !iface.internal)
  }
  if (selector === 'loopback') {
    const loopback = entries.find(([, infos]) =>
      infos.some((info) => info.family === 'IPv4' && info.internal),
    )
    if (loopback === undefined) {
      throw new UnknownInterfaceError(selector, ipv4Names(table))
    }
    const iface = toMdnsInterface(...loopback)
    if (iface === undefined) {
      throw new UnknownInterfaceError(selector, ipv4Names(table))
    }
    return [iface]
  }
  const byName = entries.find(([name]) => name === selector)
  const byAddress = isIPv4(selector)
    ? entries.find(([, infos]) => infos.some((info) => info.family === 'IPv4' && info.address === selector))
    : undefined
  const match = byName ?? byAddress
  const iface = match === undefined ? undefined : toMdnsInterface(...match)
  if (iface === undefined) {
    throw new UnknownInterfaceError(selector, ipv4Names(table))
  }
  if (byAddress !== undefined && byName === undefined) {
    // The caller picked a specific address of a multi-address interface: use exactly that one.
    return [{ ...iface, address: selector, key: `${iface.key}@${selector}` }]
  }
  return [iface]
}

/** Whether `ip` (IPv4 or IPv6) lies in one of the interface's subnets. */
export function inSubnets(iface: MdnsInterface, ip: string): boolean {
  const v4 = ipv4ToNumber(ip)
  if (v4 >= 0) {
    return iface.ipv4Subnets.some(([network, mask]) => (v4 & mask) >>> 0 === network)
  }
  if (isIPv4(ip) || !ip.includes(':')) {
    return false
  }
  try {
    return iface.ipv6Subnets.check(ip, 'ipv6')
  } catch {
    return false
  }
}
