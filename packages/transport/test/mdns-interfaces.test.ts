import type { NetworkInterfaceInfo } from 'node:os'
import { describe, expect, it } from 'vitest'
import { UnknownInterfaceError } from '../src/errors.js'
import { inSubnets, ipv4ToNumber, resolveInterfaces } from '../src/mdns-interfaces.js'

function v4(address: string, prefix: number, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal,
    cidr: `${address}/${prefix}`,
  }
}
function v6(address: string, prefix: number, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '',
    family: 'IPv6',
    mac: '00:00:00:00:00:00',
    internal,
    cidr: `${address}/${prefix}`,
    scopeid: 0,
  }
}

const TABLE = {
  lo: [v4('127.0.0.1', 8, true), v6('::1', 128, true)],
  eth0: [v4('192.168.1.10', 24), v6('fd00::10', 64)],
  wlan0: [v4('10.1.2.3', 16), v4('10.9.9.9', 24)],
  tun6: [v6('fd99::1', 64)],
}

describe('mDNS interface selection', () => {
  it("'lan' takes every non-loopback IPv4 interface and never loopback", () => {
    const names = resolveInterfaces('lan', TABLE).map((i) => i.name)
    expect(names).toEqual(['eth0', 'wlan0'])
  })

  it("'lan' on a machine without network is empty, not an error (interfaces are followed later)", () => {
    expect(resolveInterfaces('lan', { lo: TABLE.lo })).toEqual([])
  })

  it("'loopback' takes the loopback interface and its whole 127/8 subnet", () => {
    const [lo] = resolveInterfaces('loopback', TABLE)
    expect(lo?.name).toBe('lo')
    expect(lo?.address).toBe('127.0.0.1')
    expect(lo && inSubnets(lo, '127.0.0.53')).toBe(true)
    expect(lo && inSubnets(lo, '::1')).toBe(true)
    expect(lo && inSubnets(lo, '192.168.1.10')).toBe(false)
  })

  it('selects one interface by name or by one of its IPv4 addresses', () => {
    const [byName] = resolveInterfaces('wlan0', TABLE)
    expect(byName?.address).toBe('10.1.2.3')
    const [byAddress] = resolveInterfaces('10.9.9.9', TABLE)
    expect(byAddress?.name).toBe('wlan0')
    expect(byAddress?.address).toBe('10.9.9.9')
  })

  it('limits accepted peers and addresses to the subnets of the interface', () => {
    const [eth0] = resolveInterfaces('eth0', TABLE)
    expect(eth0 && inSubnets(eth0, '192.168.1.200')).toBe(true)
    expect(eth0 && inSubnets(eth0, 'fd00::1234')).toBe(true)
    expect(eth0 && inSubnets(eth0, '192.168.2.1')).toBe(false)
    expect(eth0 && inSubnets(eth0, '127.0.0.1')).toBe(false)
    expect(eth0 && inSubnets(eth0, 'not-an-ip')).toBe(false)
  })

  it('rejects unknown names and addresses, and interfaces without IPv4, with ERR_UNKNOWN_INTERFACE', () => {
    for (const selector of ['eth9', '10.0.0.1', 'tun6', '']) {
      const err = (() => {
        try {
          resolveInterfaces(selector, TABLE)
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(UnknownInterfaceError)
      expect(err).toMatchObject({
        code: 'ERR_UNKNOWN_INTERFACE',
        name: 'UnknownInterfaceError',
        interface: selector,
      })
      expect((err as Error).message).toContain('eth0')
    }
    expect(() => resolveInterfaces('loopback', { eth0: TABLE.eth0 })).toThrow(UnknownInterfaceError)
  })

  it('parses only well-formed dotted-quad IPv4 addresses', () => {
    expect(ipv4ToNumber('10.231.7.1')).toBe(((10 * 256 + 231) * 256 + 7) * 256 + 1)
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff)
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '-1.2.3.4', '1.2.3.x', '::1']) {
      expect(ipv4ToNumber(bad)).toBe(-1)
    }
  })
})
