import { beforeAll, describe, expect, it } from 'vitest'
import { InvalidTestnetOptionError } from '../src/errors.js'
import { createInternet, type HomeNetwork } from '../src/internet.js'
import { assertTestnetAvailable, ip } from '../src/ip.js'
import { assertNatAvailable, execIn, natRules } from '../src/nat.js'
import { hostFirewallSnapshot, hostNetworkSnapshot, namespaces, probe, startProbe } from './helpers.js'

// Root, iproute2 and iptables are required (CI runs as root and .ci/run installs iptables); without
// them these tests fail up front saying why, rather than passing vacuously.
describe('a simulated internet with NAT routers (needs root, iproute2 and iptables)', () => {
  beforeAll(async () => {
    await assertTestnetAvailable()
    await assertNatAvailable()
  })

  it('puts public hosts on 11.8.0.0/16 and homes behind routers, and leaves the machine’s links, routes and firewall untouched', async () => {
    const network = await hostNetworkSnapshot()
    const firewall = await hostFirewallSnapshot()
    let names: string[]
    {
      await using net = await createInternet({
        publicHosts: 2,
        homes: [{ nat: 'cone', hosts: 2 }, { nat: 'symmetric' }],
      })
      names = net.namespaces
      expect(names).toHaveLength(2 + 3 + 2 + 1)
      expect(await namespaces()).toEqual(expect.arrayContaining(names))
      expect(net.publicHosts.map((h) => h.address)).toEqual(['11.8.1.1', '11.8.1.2'])
      expect(net.homes.map((home) => home.router.address)).toEqual(['11.8.2.1', '11.8.2.2'])
      expect(net.homes[0]?.hosts.map((h) => h.address)).toEqual(['10.201.1.2', '10.201.1.3'])
      expect(net.homes.map((home) => home.subnet)).toEqual(['10.201.1.0/24', '10.201.2.0/24'])

      // The NAT rules exist inside the routers only.
      const [cone, symmetric] = net.homes
      if (cone === undefined || symmetric === undefined) throw new Error('two homes expected')
      const coneRules = await execIn(cone.router.namespace, '/usr/sbin/iptables-save', [])
      expect(coneRules).toContain('-A POSTROUTING -o wan0 -j MASQUERADE')
      expect(coneRules).not.toContain('--random-fully')
      expect(await execIn(symmetric.router.namespace, '/usr/sbin/iptables-save', [])).toContain(
        '--random-fully',
      )
      expect(await hostFirewallSnapshot()).toBe(firewall)
      expect(await hostNetworkSnapshot()).toBe(network)

      // Public hosts have no route out of 11.8.0.0/16; home hosts only a default route to their router.
      for (const host of net.publicHosts) {
        const routes = await ip(['-n', host.namespace, 'route', 'show'])
        expect(routes).not.toContain('default')
        expect(routes).toContain('11.8.0.0/16 dev tn0')
      }
      expect(await ip(['-n', cone.hosts[0]!.namespace, 'route', 'show'])).toContain(
        'default via 10.201.1.1 dev tn0',
      )
      expect(await ip(['-n', cone.router.namespace, 'route', 'show'])).not.toContain('default')

      // A home host reaches the public hosts, seen as its router; a public host cannot reach a home address.
      const echo = await startProbe(net.publicHosts[0]!, ['udp-echo', '7000'])
      const replies = (await probe(cone.hosts[1]!, ['udp-ask', '0', '500', '11.8.1.1:7000'])) as Record<
        string,
        string
      >
      expect(Object.values(replies)).toEqual([expect.stringMatching(/^11\.8\.2\.1:\d+$/)])
      echo.stop()
      const unreachable = await probe(net.publicHosts[1]!, ['tcp-connect', '10.201.1.2', '7000', '1000'])
      expect(unreachable).toBe('ENETUNREACH')
    }
    const left = await namespaces()
    for (const name of names) {
      expect(left).not.toContain(name)
    }
    expect(await hostFirewallSnapshot()).toBe(firewall)
    expect(await hostNetworkSnapshot()).toBe(network)
  }, 60_000)

  it('a cone NAT keeps one external port for two destinations; a symmetric NAT picks a new one per destination', async () => {
    await using net = await createInternet({ publicHosts: 2, homes: [{ nat: 'cone' }, { nat: 'symmetric' }] })
    const echoes = await Promise.all(net.publicHosts.map(async (h) => startProbe(h, ['udp-echo', '7000'])))
    const servers = net.publicHosts.map((h) => `${h.address}:7000`)
    const seenFrom = async (index: number): Promise<string[]> => {
      const home = net.homes[index]!
      const replies = (await probe(home.hosts[0]!, ['udp-ask', '40000', '700', ...servers])) as Record<
        string,
        string
      >
      expect(Object.keys(replies).sort()).toEqual(servers.sort())
      return Object.values(replies)
    }

    const cone = await seenFrom(0)
    // Both servers saw the router's address and one port: the home host's own, kept.
    expect(cone).toEqual(['11.8.2.1:40000', '11.8.2.1:40000'])

    const symmetric = await seenFrom(1)
    expect(symmetric.every((seen) => seen.startsWith('11.8.2.2:'))).toBe(true)
    expect(new Set(symmetric).size).toBe(2)
    for (const echo of echoes) echo.stop()
  }, 60_000)

  it('drops unsolicited inbound traffic: only replies to what a home host sent get in', async () => {
    await using net = await createInternet({ publicHosts: 2, homes: [{ nat: 'cone' }] })
    const [first, second] = net.publicHosts
    const home = net.homes[0]!
    const echo = await startProbe(first!, ['udp-echo', '7000'])
    // The home host listens on 40001 and first talks to the first public host from it: the router
    // now maps 11.8.2.1:40001 to it, for replies from 11.8.1.1:7000 only.
    const listener = await startProbe(home.hosts[0]!, ['udp-listen', '40001', '2500'])
    await probe(home.hosts[0]!, ['udp-ask', '40002', '300', `${first!.address}:7000`])
    const stranger = await probe(second!, ['udp-ask', '0', '300', `${home.router.address}:40001`])
    expect(stranger).toEqual({})
    // While the listener listens out its time: TCP to the router's public address is silently
    // dropped (a timeout), not refused; the same port on a public host, with nothing listening,
    // is refused at once.
    const [dropped, refused] = await Promise.all([
      probe(second!, ['tcp-connect', home.router.address, '7000', '1500']),
      probe(second!, ['tcp-connect', first!.address, '7001', '1500']),
    ])
    expect(dropped).toBe('timeout')
    expect(refused).toBe('refused')
    await expect.poll(() => listener.lines.length, { timeout: 5_000 }).toBe(2)
    expect(JSON.parse(listener.lines[1]!)).toEqual([])
    echo.stop()
  }, 60_000)

  it('UDP hole punching with plain sockets: two hosts behind cone NATs, each sending from one socket to the other router, hear each other; behind a symmetric NAT nothing gets through', async () => {
    await using net = await createInternet({
      publicHosts: 0,
      homes: [{ nat: 'cone' }, { nat: 'cone' }, { nat: 'symmetric' }, { nat: 'symmetric' }],
    })
    const [coneA, coneB, symA, symB] = net.homes
    if (coneA === undefined || coneB === undefined || symA === undefined || symB === undefined)
      throw new Error('four homes expected')
    // Both sides send at once for 1.5 s from port 41000, to the other router's port 41000: the
    // mapping a cone NAT keeps (the port it preserved) and a symmetric NAT does not.
    const punch = async (from: HomeNetwork, to: HomeNetwork): Promise<string[]> => {
      const done = await startProbe(from.hosts[0]!, [
        'udp-punch',
        '41000',
        '1500',
        `${to.router.address}:41000`,
      ])
      await expect.poll(() => done.lines.length, { timeout: 5_000 }).toBe(2)
      done.stop()
      return JSON.parse(done.lines[1]!) as string[]
    }
    // The two pairs have no router in common: they punch at the same time.
    const [cone, symmetric] = await Promise.all([
      Promise.all([punch(coneA, coneB), punch(coneB, coneA)]),
      Promise.all([punch(symA, symB), punch(symB, symA)]),
    ])
    expect(cone).toEqual([['11.8.2.2:41000 punch'], ['11.8.2.1:41000 punch']])
    expect(symmetric).toEqual([[], []])
    const mixed = await Promise.all([punch(coneA, symA), punch(symA, coneA)])
    expect(mixed).toEqual([[], []])
  }, 60_000)

  it('describes each NAT as an iptables rule set for the router namespace', () => {
    expect(natRules('cone')).toContain('-A POSTROUTING -o wan0 -j MASQUERADE\n')
    expect(natRules('symmetric')).toContain('-A POSTROUTING -o wan0 -j MASQUERADE --random-fully\n')
    for (const kind of ['cone', 'symmetric'] as const) {
      // One rule set for every protocol: UDP (QUIC, hole punching) is mapped and filtered like TCP.
      expect(natRules(kind)).not.toMatch(/-p (tcp|udp)/)
      expect(natRules(kind)).toContain(':FORWARD DROP')
      expect(natRules(kind)).toContain(
        '-A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
      )
    }
  })

  it('rejects bad options with a coded error', async () => {
    for (const init of [
      { publicHosts: -1 },
      { publicHosts: 1.5 },
      { homes: [{ nat: 'full-cone' as 'cone' }] },
      { homes: [{ hosts: 0 }] },
      { prefix: 'Bad-Prefix' },
    ]) {
      await expect(createInternet(init)).rejects.toBeInstanceOf(InvalidTestnetOptionError)
    }
  })
})
