import { describe, expect, it } from 'vitest'
import { formatPeers } from '../src/commands/node.js'
import type { PeerJson } from '../src/control/types.js'
import { colours } from '../src/term/colour.js'

const RELAY = '12D3KooWCoHXtBtgKcdkGxEc2znnHmKFvmDWZF77oN5oWpxE1fUg'
const HOME = '12D3KooWAJhamtjadwEZaXKj6mp1KEZXaWMPbWU37F3ADCCjx8wh'
const PUNCHED = '12D3KooWGtXHx11jZ79KSjRboET6XiXVjTwPL8DidVqjvhCyZJhM'

function peer(peerId: string, connection: PeerJson['connection']): PeerJson {
  return {
    peerId,
    status: 'connected',
    ...(connection === undefined ? {} : { connection }),
    addresses: [],
    rttMs: 42,
    lastSeen: Date.now(),
    protocols: [],
    protocolMinor: 4,
    outstanding: 0,
    reputation: {
      successes: 0,
      failures: 0,
      successRate: 2 / 3,
      misbehaviour: 0,
      agreements: 0,
      disagreements: 0,
      circuit: 'closed',
      consecutiveFailures: 0,
      score: 2 / 3,
      offences: 0,
    },
    connectedAt: Date.now(),
    reconnectAttempts: 0,
  }
}

describe('node peers', () => {
  it('says for each peer whether it is reached directly or through a relay, and through which', () => {
    const text = formatPeers(
      [
        peer(RELAY, {
          kind: 'direct',
          limited: false,
          remoteAddr: `/ip4/11.8.1.2/tcp/4001/p2p/${RELAY}`,
          direction: 'outbound',
        }),
        peer(HOME, {
          kind: 'relayed',
          via: RELAY,
          limited: true,
          remoteAddr: `/ip4/11.8.1.2/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${HOME}`,
          direction: 'outbound',
        }),
        peer(PUNCHED, {
          kind: 'direct',
          limited: false,
          remoteAddr: `/ip4/11.8.2.1/tcp/40123/p2p/${PUNCHED}`,
          direction: 'inbound',
        }),
      ],
      colours(false),
    )
    const line = (id: string): string => text.split('\n').find((l) => l.startsWith(id)) ?? ''
    expect(line(RELAY)).toMatch(/connected\s+direct\s+42 ms/)
    expect(line(HOME)).toMatch(/connected\s+relayed via 12D3KooW…xE1fUg/)
    expect(line(HOME)).toContain('/p2p-circuit/')
    // A punched connection is a direct one between the two routers.
    expect(line(PUNCHED)).toMatch(/connected\s+direct\s+.*\/ip4\/11\.8\.2\.1\/tcp\/40123/)
    expect(text).toContain('3 connected (1 through a relay), 0 failed')
  })
})
