import type { PeerId } from '@libp2p/interface'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { UnknownPeerError } from '../src/errors.js'
import {
  type AddressLike,
  DEFAULT_PEER_TABLE_SETTINGS,
  type PeerInfo,
  type PeerNetwork,
  PeerTable,
  type PeerTableEvents,
} from '../src/peers.js'

const log = pino({ level: 'silent' })

function peer(name: string): PeerId {
  return { toString: () => name } as unknown as PeerId
}
const addr = (text: string): AddressLike => ({ toString: () => text })

interface Recorded {
  type: string
  peerId: string
  detail?: string
}

function harness(settings: Partial<typeof DEFAULT_PEER_TABLE_SETTINGS> = {}) {
  const events: Recorded[] = []
  const rtts = new Map<string, number | 'hang' | 'fail'>()
  const hungUp: string[] = []
  const redials: Array<{ peer: string; addresses: string[] }> = []
  let redialResult: 'ok' | 'fail' = 'fail'
  const network: PeerNetwork = {
    ping: (p, { signal }) => {
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
    redial: async (p, addresses) => {
      redials.push({ peer: p.toString(), addresses: addresses.map(String) })
      if (redialResult === 'fail') throw new Error('connection refused')
    },
  }
  const record: PeerTableEvents = {
    connect: (p: PeerInfo) => events.push({ type: 'connect', peerId: p.peerId }),
    update: (p: PeerInfo) => events.push({ type: 'update', peerId: p.peerId }),
    failed: (p: PeerInfo, reason: string) =>
      events.push({ type: 'failed', peerId: p.peerId, detail: reason }),
    remove: (peerId: string, reason: string) => events.push({ type: 'remove', peerId, detail: reason }),
  }
  const table = new PeerTable(network, record, log, settings)
  return {
    table,
    events,
    rtts,
    hungUp,
    redials,
    succeedRedials: () => {
      redialResult = 'ok'
    },
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('peer table', () => {
  it('defaults to 10 s heartbeats with a 3 s timeout', () => {
    expect(DEFAULT_PEER_TABLE_SETTINGS.heartbeatIntervalMs).toBe(10_000)
    expect(DEFAULT_PEER_TABLE_SETTINGS.heartbeatTimeoutMs).toBe(3_000)
  })

  it('records connections, identify results and heartbeat RTTs', async () => {
    const { table, events, rtts } = harness()
    table.start()
    table.onConnect(peer('A'), addr('/ip4/10.0.0.2/tcp/51234'))
    table.onIdentify(peer('A'), {
      agentVersion: 'p2p-ai/0.1.0',
      protocols: ['/ipfs/ping/1.0.0'],
      listenAddrs: [addr('/ip4/10.0.0.2/tcp/4001')],
    })
    rtts.set('A', 1.234)
    await table.heartbeat()
    const info = table.get('A')
    expect(info).toMatchObject({
      peerId: 'A',
      status: 'connected',
      agentVersion: 'p2p-ai/0.1.0',
      rttMs: 1.23,
      protocols: ['/ipfs/ping/1.0.0'],
      addresses: ['/ip4/10.0.0.2/tcp/4001', '/ip4/10.0.0.2/tcp/51234'],
    })
    expect(Object.isFrozen(info)).toBe(true)
    expect(events.map((e) => e.type)).toEqual(['connect', 'update'])
    table.stop()
  })

  it('marks a peer failed when a heartbeat times out, closes its connection and redials with backoff', async () => {
    vi.useFakeTimers()
    const { table, events, rtts, hungUp, redials } = harness({
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 300,
      reconnectInitialDelayMs: 1_000,
      reconnectMaxDelayMs: 4_000,
      reconnectMaxAttempts: 3,
    })
    table.start()
    table.onConnect(peer('A'), addr('/ip4/10.0.0.2/tcp/4001'))
    rtts.set('A', 'hang')
    await vi.advanceTimersByTimeAsync(500 + 299)
    expect(table.get('A')?.status).toBe('connected')
    await vi.advanceTimersByTimeAsync(1)
    expect(table.get('A')).toMatchObject({
      status: 'failed',
      failureReason: 'no heartbeat answer within 300 ms',
    })
    expect(events.at(-1)).toMatchObject({ type: 'failed', peerId: 'A' })
    expect(hungUp).toEqual(['A'])

    // Redials: ~1 s, ~2 s, ~4 s (±20 %), then the peer is forgotten.
    await vi.advanceTimersByTimeAsync(1_200)
    expect(redials).toHaveLength(1)
    expect(redials[0]).toEqual({ peer: 'A', addresses: ['/ip4/10.0.0.2/tcp/4001'] })
    await vi.advanceTimersByTimeAsync(2_400)
    expect(redials).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(4_800)
    expect(redials).toHaveLength(3)
    expect(table.get('A')).toBeUndefined()
    expect(events.at(-1)).toEqual({ type: 'remove', peerId: 'A', detail: 'unreachable' })
    table.stop()
  })

  it('marks a peer failed when its connection closes without a goodbye, and restores it on reconnect', async () => {
    vi.useFakeTimers()
    const { table, events, redials, succeedRedials } = harness({ reconnectInitialDelayMs: 100 })
    table.start()
    table.onConnect(peer('B'))
    table.onIdentify(peer('B'), { protocols: [], listenAddrs: [addr('/ip4/10.0.0.3/tcp/4001')] })
    table.onDisconnect(peer('B'))
    expect(table.get('B')).toMatchObject({ status: 'failed', failureReason: 'connection closed' })
    succeedRedials()
    await vi.advanceTimersByTimeAsync(200)
    expect(redials).toHaveLength(1)
    // libp2p reports the new connection; the entry is connected again with its history reset.
    table.onConnect(peer('B'))
    expect(table.get('B')).toMatchObject({ status: 'connected', reconnectAttempts: 0 })
    expect(table.get('B')?.failedAt).toBeUndefined()
    expect(events.map((e) => e.type)).toEqual(['connect', 'update', 'failed', 'connect'])
    table.stop()
  })

  it('drops a peer that says goodbye at once and does not redial it', async () => {
    vi.useFakeTimers()
    const { table, events, redials } = harness({ reconnectInitialDelayMs: 100 })
    table.start()
    table.onConnect(peer('C'))
    table.onGoodbye(peer('C'), 'shutdown')
    table.onDisconnect(peer('C'))
    await vi.advanceTimersByTimeAsync(10_000)
    expect(table.get('C')).toBeUndefined()
    expect(redials).toHaveLength(0)
    expect(events).toEqual([
      { type: 'connect', peerId: 'C' },
      { type: 'remove', peerId: 'C', detail: 'goodbye' },
    ])
    table.stop()
  })

  it('does not reconnect when maxAttempts is 0', () => {
    const { table, events } = harness({ reconnectMaxAttempts: 0 })
    table.start()
    table.onConnect(peer('D'))
    table.onDisconnect(peer('D'))
    expect(table.get('D')).toBeUndefined()
    expect(events.map((e) => e.type)).toEqual(['connect', 'failed', 'remove'])
    table.stop()
  })

  it('keeps a peer that said goodbye out, even when its identify push arrives afterwards', () => {
    const { table, events } = harness()
    table.start()
    table.onConnect(peer('F'))
    table.onGoodbye(peer('F'), 'shutdown')
    table.onIdentify(peer('F'), { agentVersion: 'p2p-ai/9', protocols: [], listenAddrs: [] })
    expect(table.get('F')).toBeUndefined()
    expect(events.map((e) => e.type)).toEqual(['connect', 'remove'])
    table.stop()
  })

  it('stores capabilities of known peers and refuses unknown ones', () => {
    const { table } = harness()
    table.onConnect(peer('E'))
    expect(table.setCapabilities('E', { taskTypes: ['embed'] }).capabilities).toEqual({
      taskTypes: ['embed'],
    })
    expect(() => table.setCapabilities('nobody', {})).toThrow(UnknownPeerError)
  })

  it('caps the backoff and keeps jitter within ±20 %', () => {
    const { table } = harness({ reconnectInitialDelayMs: 1_000, reconnectMaxDelayMs: 30_000 })
    for (let i = 0; i < 50; i++) {
      const d0 = table.reconnectDelay(0)
      expect(d0).toBeGreaterThanOrEqual(800)
      expect(d0).toBeLessThanOrEqual(1_200)
      const d10 = table.reconnectDelay(10)
      expect(d10).toBeGreaterThanOrEqual(24_000)
      expect(d10).toBeLessThanOrEqual(36_000)
    }
  })
})
