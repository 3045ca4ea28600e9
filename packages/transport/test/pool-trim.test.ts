import type { Connection } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { duplicateConnections, excessConnections, isIdle } from '../src/pool-trim.js'

function conn(
  remote: string,
  direction: 'inbound' | 'outbound',
  open: number,
  protocols: string[] = [],
): Connection {
  return {
    remotePeer: { toString: () => remote },
    direction,
    timeline: { open },
    streams: protocols.map((protocol) => ({ protocol })),
  } as unknown as Connection
}

describe('pool trimming rules', () => {
  it('both ends of a crossed dial pick the same connection to close: the one the larger id dialled', () => {
    // Seen from "a" (smaller id): the inbound connection came from "b" and goes.
    const fromA = [conn('b', 'outbound', 1), conn('b', 'inbound', 2)]
    expect(duplicateConnections(fromA, 'a')).toEqual([fromA[1]])
    // Seen from "b" (larger id): its own outbound connection goes, the same one.
    const fromB = [conn('a', 'inbound', 1), conn('a', 'outbound', 2)]
    expect(duplicateConnections(fromB, 'b')).toEqual([fromB[1]])
  })

  it('closes every connection the larger id dialled, only while one from the smaller id remains', () => {
    const crossed = [
      conn('x', 'inbound', 1),
      conn('x', 'inbound', 2),
      conn('x', 'outbound', 3),
      conn('y', 'inbound', 4),
    ]
    // Seen from "a" (smaller than "x"): both inbound connections from x go; the outbound one stays.
    expect(duplicateConnections(crossed, 'a')).toEqual([crossed[0], crossed[1]])
    // Same-direction duplicates carry no order both ends agree on: they are left alone.
    const sameSide = [conn('x', 'inbound', 1), conn('x', 'inbound', 2)]
    expect(duplicateConnections(sameSide, 'a')).toEqual([])
    expect(duplicateConnections([conn('y', 'outbound', 1)], 'a')).toEqual([])
  })

  it('closes the newest inbound connections first when over the limit', () => {
    const list = [
      conn('p1', 'outbound', 1),
      conn('p2', 'inbound', 2),
      conn('p3', 'inbound', 3),
      conn('p4', 'outbound', 4),
    ]
    expect(excessConnections(list, 2).map((c) => c.remotePeer.toString())).toEqual(['p3', 'p2'])
    expect(excessConnections(list, 4)).toEqual([])
  })

  it('treats only libp2p housekeeping streams as safe to cut', () => {
    expect(isIdle(conn('p', 'inbound', 1, ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']))).toBe(true)
    expect(isIdle(conn('p', 'inbound', 1, ['/p2p-ai/task/1.0.0']))).toBe(false)
  })
})
