import type { PeerId } from '@libp2p/interface'
import type { Capabilities } from '@p2p-ai/protocol'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PeerDirectory, type PeerDirectoryEvents } from '../src/peers/directory.js'
import type { AddressLike, PeerConnection, PeerNetwork } from '../src/peers/types.js'

const log = pino({ level: 'silent' })

function peer(name: string): PeerId {
  return { toString: () => name } as unknown as PeerId
}
const addr = (text: string): AddressLike => ({ toString: () => text })

function caps(extra: Partial<Capabilities> = {}): Capabilities {
  return {
    protocolMinor: 2,
    taskTypes: ['embed'],
    models: [],
    concurrency: 4,
    load: { running: 0, queued: 0 },
    ...extra,
  }
}

interface Recorded {
  type: string
  peerId: string
  detail?: string
}

function harness(init: { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number } = {}) {
  const events: Recorded[] = []
  const rtts = new Map<string, number | 'hang' | 'fail'>()
  const pings: string[] = []
  const hungUp: string[] = []
  const redials: Array<{ peer: string; addresses: string[] }> = []
  const forgotten: string[] = []
  const links = new Map<string, PeerConnection[]>()
  const network: PeerNetwork = {
    ping: (p, { signal }) => {
      pings.push(p.toString())
      const r = rtts.get(p.toString()) ?? 1
      if (r === 'fail') return Promise.reject(new Error('stream reset'))
      if (r === 'hang') {
        return new Promise((_, reject) =>
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
        )
      }
      return Promise.resolve(r)
    },
    hangUp: async (p) => {
      hungUp.push(p.toString())
    },
    redial: (p, addresses) => {
      redials.push({ peer: p.toString(), addresses: addresses.map(String) })
    },
    forget: (p) => {
      forgotten.push(p.toString())
    },
    connections: (p) => links.get(p.toString()) ?? [],
  }
  const directory = new PeerDirectory({ self: 'SELF', network, log }, init)
  for (const type of ['peer:connect', 'peer:update', 'peer:failed', 'peer:remove'] as const) {
    directory.addEventListener(type, (evt: PeerDirectoryEvents[typeof type]) => {
      const detail = evt.detail as { peerId?: string; peer?: { peerId: string }; reason?: string }
      events.push({
        type: type.slice(5),
        peerId: detail.peerId ?? detail.peer?.peerId ?? '?',
        ...(detail.reason === undefined ? {} : { detail: detail.reason }),
      })
    })
  }
  return { directory, events, rtts, pings, hungUp, redials, forgotten, links }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('the peer directory', () => {
  it('defaults to 10 s heartbeats with a 3 s timeout', () => {
    expect(harness().directory.settings).toEqual({ heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 3_000 })
  })

  it('records connections, identify results and their round-trip time as soon as they connect', async () => {
    const { directory, events, rtts, pings } = harness()
    directory.start()
    rtts.set('A', 1.234)
    directory.onConnect(peer('A'), addr('/ip4/10.0.0.2/tcp/51234'))
    directory.onIdentify(peer('A'), {
      agentVersion: 'p2p-ai/0.1.0',
      protocols: ['/ipfs/ping/1.0.0'],
      listenAddrs: [addr('/ip4/10.0.0.2/tcp/4001')],
    })
    // Pinged at once, not an interval later.
    await vi.waitFor(() => expect(directory.get('A')?.rttMs).toBe(1.23))
    expect(pings).toEqual(['A'])
    const info = directory.get('A')
    expect(info).toMatchObject({
      peerId: 'A',
      status: 'connected',
      agentVersion: 'p2p-ai/0.1.0',
      protocols: ['/ipfs/ping/1.0.0'],
      addresses: ['/ip4/10.0.0.2/tcp/4001', '/ip4/10.0.0.2/tcp/51234'],
      protocolMinor: 0,
      outstanding: 0,
      reputation: { circuit: 'closed' },
    })
    expect(Object.isFrozen(info)).toBe(true)
    expect(events.map((e) => e.type)).toEqual(['connect', 'update'])
    // This node itself is never a peer of its own directory.
    directory.onConnect(peer('SELF'))
    expect(directory.get('SELF')).toBeUndefined()
    directory.stop()
  })

  it('marks a peer failed when a heartbeat times out, closes its connection and hands it to the one redial path', async () => {
    vi.useFakeTimers()
    const { directory, events, rtts, hungUp, redials } = harness({
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 300,
    })
    directory.start()
    rtts.set('A', 'hang')
    directory.onConnect(peer('A'), addr('/ip4/10.0.0.2/tcp/4001'))
    // The first ping at connect hangs too: it fails after 300 ms.
    await vi.advanceTimersByTimeAsync(299)
    expect(directory.get('A')?.status).toBe('connected')
    await vi.advanceTimersByTimeAsync(1)
    expect(directory.get('A')).toMatchObject({
      status: 'failed',
      failureReason: 'no heartbeat answer within 300 ms',
    })
    expect(events.at(-1)).toMatchObject({ type: 'failed', peerId: 'A' })
    expect(hungUp).toEqual(['A'])
    expect(redials).toEqual([{ peer: 'A', addresses: ['/ip4/10.0.0.2/tcp/4001'] }])
    // The pool reports its retries, then that it gave up: the peer is forgotten.
    const at = Date.now() + 2_000
    directory.onRedialScheduled(peer('A'), 1, at)
    expect(directory.get('A')).toMatchObject({ reconnectAttempts: 1, nextReconnectAt: at })
    directory.onRedialGaveUp(peer('A'), 6)
    expect(directory.get('A')).toBeUndefined()
    expect(events.at(-1)).toEqual({ type: 'remove', peerId: 'A', detail: 'unreachable' })
    directory.stop()
  })

  it('marks a peer failed when its connection closes without a goodbye, and restores it on reconnect', () => {
    const { directory, events, redials } = harness()
    directory.start()
    directory.onConnect(peer('B'))
    directory.onIdentify(peer('B'), { protocols: [], listenAddrs: [addr('/ip4/10.0.0.3/tcp/4001')] })
    directory.onCapabilities(peer('B'), caps())
    directory.onDisconnect(peer('B'))
    expect(directory.get('B')).toMatchObject({ status: 'failed', failureReason: 'connection closed' })
    // What it announced may be stale when it is back: it announces again then.
    expect(directory.get('B')?.capabilities).toBeUndefined()
    expect(redials).toEqual([{ peer: 'B', addresses: ['/ip4/10.0.0.3/tcp/4001'] }])
    directory.onConnect(peer('B'))
    expect(directory.get('B')).toMatchObject({ status: 'connected', reconnectAttempts: 0 })
    expect(directory.get('B')?.failedAt).toBeUndefined()
    expect(events.map((e) => e.type)).toEqual(['connect', 'update', 'update', 'failed', 'connect'])
    directory.stop()
  })

  it('drops a peer that says goodbye at once, never redials it, and keeps it out when its identify push arrives late', () => {
    const { directory, events, redials, forgotten } = harness()
    directory.start()
    directory.onConnect(peer('C'))
    directory.onGoodbye(peer('C'), 'shutdown')
    directory.onDisconnect(peer('C'))
    directory.onIdentify(peer('C'), { agentVersion: 'p2p-ai/9', protocols: [], listenAddrs: [] })
    expect(directory.get('C')).toBeUndefined()
    expect(redials).toHaveLength(0)
    expect(forgotten).toEqual(['C'])
    expect(events).toEqual([
      { type: 'connect', peerId: 'C' },
      { type: 'remove', peerId: 'C', detail: 'goodbye' },
    ])
    directory.stop()
  })

  it('keeps typed capabilities and the protocol minor a peer announced, for known peers only', () => {
    const { directory } = harness()
    directory.onCapabilities(peer('nobody'), caps())
    expect(directory.get('nobody')).toBeUndefined()
    directory.onConnect(peer('E'))
    directory.onCapabilities(peer('E'), caps({ protocolMinor: 1, taskTypes: ['ocr'] }))
    expect(directory.get('E')).toMatchObject({ protocolMinor: 1, capabilities: { taskTypes: ['ocr'] } })
    expect(directory.protocolMinor('E')).toBe(1)
    expect(directory.protocolMinor('unknown')).toBe(0)
  })

  it("estimates other requesters' load from an announcement, net of the most of ours outstanding since the last one", () => {
    const { directory } = harness()
    directory.onConnect(peer('P'))
    directory.track('P', 1)
    directory.track('P', 1)
    directory.track('P', 1)
    directory.track('P', -1)
    directory.track('P', -1)
    // Announced 5 running: at most 3 of them were ours (our peak), so others run at least 2.
    directory.onCapabilities(peer('P'), caps({ load: { running: 5, queued: 0 } }))
    expect(directory.record('P')).toMatchObject({ outstanding: 1, othersLoad: 2 })
    // The peak restarts from what is outstanding now.
    directory.onCapabilities(peer('P'), caps({ load: { running: 1, queued: 0 } }))
    expect(directory.record('P')?.othersLoad).toBe(0)
    expect(directory.get('P')?.outstanding).toBe(1)
  })

  it('skips a neighbour that refused to forward a task type until it announces again or the mark expires', () => {
    const { directory } = harness()
    directory.onConnect(peer('R'))
    directory.onCapabilities(peer('R'), caps())
    directory.refuseRoute('R', 'ocr', 1_000)
    expect(directory.routeRefused('R', 'ocr', 1_500)).toBe(true)
    expect(directory.routeRefused('R', 'embed', 1_500)).toBe(false)
    expect(directory.routeRefused('R', 'ocr', 3_001)).toBe(false)
    directory.refuseRoute('R', 'ocr', 1_000)
    directory.onCapabilities(peer('R'), caps())
    expect(directory.routeRefused('R', 'ocr', 1_500)).toBe(false)
  })

  it('says whether a peer is reached directly or through a relay, direct first', () => {
    const { directory, links, events } = harness()
    const relayed: PeerConnection = {
      kind: 'relayed',
      via: 'RELAY',
      limited: true,
      remoteAddr: '/ip4/11.8.0.1/tcp/4001/p2p/RELAY/p2p-circuit/p2p/Q',
      direction: 'outbound',
    }
    const direct: PeerConnection = {
      kind: 'direct',
      limited: false,
      remoteAddr: '/ip4/11.8.0.7/tcp/4001',
      direction: 'outbound',
    }
    links.set('Q', [relayed])
    directory.onConnect(peer('Q'))
    expect(directory.get('Q')?.connection).toEqual(relayed)
    links.set('Q', [relayed, direct])
    directory.onConnectionsChanged(peer('Q'))
    expect(directory.get('Q')?.connection).toEqual(direct)
    expect(events.map((e) => e.type)).toEqual(['connect', 'update'])
  })

  it('probes a quiet peer for the requester without marking it failed when it does not answer', async () => {
    const { directory, rtts } = harness()
    directory.onConnect(peer('S'))
    rtts.set('S', 4)
    expect(await directory.probe('S', 100)).toBe(true)
    expect(directory.get('S')?.rttMs).toBe(4)
    rtts.set('S', 'hang')
    expect(await directory.probe('S', 50)).toBe(false)
    expect(directory.get('S')?.status).toBe('connected')
    expect(await directory.probe('nobody', 50)).toBe(false)
  })

  it('moves a running heartbeat to a new period at once', async () => {
    vi.useFakeTimers()
    const { directory, pings } = harness({ heartbeatIntervalMs: 10_000 })
    directory.onConnect(peer('T'))
    directory.start()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(pings).toEqual([])
    directory.configure({ heartbeatIntervalMs: 200 })
    expect(directory.settings.heartbeatIntervalMs).toBe(200)
    await vi.advanceTimersByTimeAsync(450)
    expect(pings).toEqual(['T', 'T'])
    directory.stop()
  })
})
