import { decode, encode } from 'dns-packet'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidTransportOptionError, UnknownInterfaceError } from '../src/errors.js'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'
import { loopbackMdnsSocket, uniqueServiceTag } from './helpers/loopback-mdns.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('mDNS discovery on the loopback interface', () => {
  const nodes: Transport[] = []
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
    await Promise.all(cleanups.splice(0).map(async (fn) => fn()))
  })

  async function start(serviceTag: string, init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({
      listen: LOOPBACK,
      mdns: { interface: 'loopback', serviceTag },
      ...init,
    })
    nodes.push(node)
    return node
  }

  function discovered(node: Transport): Set<string> {
    const seen = new Set<string>()
    node.addEventListener('peer:discovery', (evt) => seen.add(evt.detail.id.toString()))
    return seen
  }

  it('two nodes discover each other and the pool connects them once', async () => {
    const tag = uniqueServiceTag()
    const a = await start(tag)
    const seenByA = discovered(a)
    const b = await start(tag)
    const seenByB = discovered(b)
    expect(a.services.mdns?.interfaces).toHaveLength(1)
    await expect.poll(() => seenByA.has(b.peerId.toString()) && seenByB.has(a.peerId.toString())).toBe(true)
    // Exactly one connection per pair in the end: the smaller id dials at once, the other side
    // waits; if both dialled anyway (a slow machine), the pool closes the crossed duplicate.
    await expect
      .poll(() => a.getConnections(b.peerId).length === 1 && b.getConnections(a.peerId).length === 1)
      .toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(a.getConnections(b.peerId)).toHaveLength(1)
    expect(b.getConnections(a.peerId)).toHaveLength(1)
  })

  it('answers a plain PTR query at once with its loopback addresses in libp2p TXT records', async () => {
    const tag = uniqueServiceTag()
    const node = await start(tag)
    const raw = await loopbackMdnsSocket()
    cleanups.push(raw.close)
    await raw.send(encode({ type: 'query', questions: [{ name: tag, type: 'PTR' }] }))
    const answerOf = (): string[] | undefined => {
      for (const { datagram } of raw.messages) {
        const packet = decode(datagram)
        if (packet.type !== 'response' || !packet.answers?.some((a) => a.type === 'PTR' && a.name === tag))
          continue
        return (packet.answers ?? [])
          .filter((a) => a.type === 'TXT')
          .flatMap((a) => (Array.isArray(a.data) ? a.data : [a.data]).map(String))
      }
      return undefined
    }
    await expect.poll(answerOf).toBeDefined()
    const txt = answerOf() ?? []
    expect(txt.length).toBeGreaterThan(0)
    for (const entry of txt) {
      expect(entry).toMatch(
        new RegExp(`^dnsaddr=/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${node.peerId.toString()}$`),
      )
    }
  })

  it('ignores malformed datagrams from the network, counts them, and keeps discovering', async () => {
    const tag = uniqueServiceTag()
    const a = await start(tag)
    const raw = await loopbackMdnsSocket()
    cleanups.push(raw.close)
    const valid = encode({
      type: 'response',
      answers: [
        { name: tag, type: 'PTR', ttl: 120, data: `evil.${tag}` },
        {
          name: `evil.${tag}`,
          type: 'TXT',
          ttl: 120,
          data: 'dnsaddr=/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
        },
      ],
    })
    const garbage = [
      Buffer.from('definitely not dns'),
      valid.subarray(0, 20),
      Buffer.alloc(9_500, 0xff),
      Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 0]),
    ]
    for (const datagram of garbage) {
      await raw.send(datagram)
    }
    await expect.poll(() => a.services.mdns?.stats.malformed).toBeGreaterThanOrEqual(garbage.length)
    const b = await start(tag)
    await expect.poll(() => a.getConnections(b.peerId).length).toBe(1)
  })

  it('keeps networks with different service tags apart', async () => {
    const a = await start(uniqueServiceTag())
    const seenByA = discovered(a)
    const b = await start(uniqueServiceTag())
    // Wait for the second round of queries (1 s after start) so both sides asked twice.
    await expect.poll(() => (b.services.mdns?.stats.queriesSent ?? 0) >= 2, { timeout: 5_000 }).toBe(true)
    await expect.poll(() => (a.services.mdns?.stats.queriesSent ?? 0) >= 2, { timeout: 5_000 }).toBe(true)
    expect(seenByA.size).toBe(0)
    expect(a.getConnections()).toHaveLength(0)
    expect(b.getConnections()).toHaveLength(0)
  })

  it('a node with answer: false discovers others but stays unseen', async () => {
    const tag = uniqueServiceTag()
    const quiet = await start(tag, { mdns: { interface: 'loopback', serviceTag: tag, answer: false } })
    const seenByQuiet = discovered(quiet)
    const loud = await start(tag, { maxConnections: 1, mdns: { interface: 'loopback', serviceTag: tag } })
    const seenByLoud = discovered(loud)
    await expect.poll(() => seenByQuiet.has(loud.peerId.toString())).toBe(true)
    expect(quiet.services.mdns?.stats.answersSent).toBe(0)
    // The only way `loud` learns about `quiet` is the connection `quiet` opens to it.
    await expect.poll(() => loud.getConnections(quiet.peerId).length).toBe(1)
    expect(loud.services.mdns?.stats.peersEmitted).toBe(0)
    expect(seenByLoud.size).toBeLessThanOrEqual(1)
  })

  it('does not answer its own queries, which multicast loopback hands back to it', async () => {
    const tag = uniqueServiceTag()
    const node = await start(tag, { mdns: { interface: 'loopback', serviceTag: tag, intervalMs: 500 } })
    await expect
      .poll(() => node.services.mdns?.stats.queriesSent ?? 0, { timeout: 5_000 })
      .toBeGreaterThanOrEqual(3)
    // The one answer is the announcement made when its listener came up.
    expect(node.services.mdns?.stats.answersSent).toBe(1)
  })

  it('stays quiet once peers know each other: queries carry known answers (RFC 6762 §7.1)', async () => {
    const tag = uniqueServiceTag()
    const mdns = { interface: 'loopback', serviceTag: tag, intervalMs: 500 } as const
    const a = await start(tag, { mdns })
    const b = await start(tag, { mdns })
    await expect.poll(() => a.getConnections(b.peerId).length).toBe(1)
    // Let the start-up exchange settle, then watch several rounds of queries from both sides.
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    const answers = (a.services.mdns?.stats.answersSent ?? 0) + (b.services.mdns?.stats.answersSent ?? 0)
    const queries = (a.services.mdns?.stats.queriesSent ?? 0) + (b.services.mdns?.stats.queriesSent ?? 0)
    await expect
      .poll(() => (a.services.mdns?.stats.queriesSent ?? 0) + (b.services.mdns?.stats.queriesSent ?? 0), {
        timeout: 5_000,
      })
      .toBeGreaterThanOrEqual(queries + 4)
    expect((a.services.mdns?.stats.answersSent ?? 0) + (b.services.mdns?.stats.answersSent ?? 0)).toBe(
      answers,
    )
  })

  it('stops cleanly: sockets closed, no more answers', async () => {
    const tag = uniqueServiceTag()
    const node = await start(tag)
    await node.stop()
    expect(node.services.mdns?.interfaces).toEqual([])
    const raw = await loopbackMdnsSocket()
    cleanups.push(raw.close)
    await raw.send(encode({ type: 'query', questions: [{ name: tag, type: 'PTR' }] }))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const answers = raw.messages.filter(({ datagram }) => decode(datagram).type === 'response')
    expect(answers).toHaveLength(0)
  })

  it('rejects bad mDNS options at construction with coded errors', async () => {
    await expect(
      createTransport({ listen: LOOPBACK, mdns: { interface: 'no-such-if0' } }),
    ).rejects.toMatchObject({
      code: UnknownInterfaceError.code,
      interface: 'no-such-if0',
    })
    await expect(
      createTransport({ listen: LOOPBACK, mdns: { serviceTag: 'not a tag' } }),
    ).rejects.toMatchObject({
      code: InvalidTransportOptionError.code,
      option: 'mdns.serviceTag',
    })
    await expect(createTransport({ listen: LOOPBACK, mdns: { intervalMs: 0 } })).rejects.toMatchObject({
      code: InvalidTransportOptionError.code,
      option: 'mdns.intervalMs',
    })
    await expect(
      createTransport({ listen: LOOPBACK, mdns: 'yes' as unknown as false }),
    ).rejects.toMatchObject({ code: InvalidTransportOptionError.code, option: 'mdns' })
  })
})
