import { repeatingTask } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { slowAutoNatWalkWhenPrivate } from '../src/autonat-pace.js'
import { AUTONAT_PRIVATE_WALK_INTERVAL_MS, AUTONAT_WALK_INTERVAL_MS } from '../src/constants.js'
import type { Reachability, ReachabilityEvents, ReachabilityStatus } from '../src/reachability.js'

class FakeReachability extends TypedEventEmitter<ReachabilityEvents> {
  reachability: Reachability = 'unknown'

  become(reachability: Reachability): void {
    this.reachability = reachability
    this.safeDispatchEvent('change', { detail: { reachability } as ReachabilityStatus })
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe("the pace of AutoNAT v2's random walk", () => {
  it('walks every 30 minutes instead of every minute once the node knows it is behind a NAT, and at its own pace again when it is not', async () => {
    vi.useFakeTimers()
    let walks = 0
    // The same repeating task @libp2p/autonat-v2 builds for its walk, at its interval.
    const findPeers = repeatingTask(async () => {
      walks++
    }, AUTONAT_WALK_INTERVAL_MS)
    findPeers.start()
    const reachability = new FakeReachability()
    slowAutoNatWalkWhenPrivate(reachability, { client: { findPeers } })

    await vi.advanceTimersByTimeAsync(AUTONAT_WALK_INTERVAL_MS)
    expect(walks).toBe(1)
    reachability.become('private')
    await vi.advanceTimersByTimeAsync(10 * AUTONAT_WALK_INTERVAL_MS)
    expect(walks).toBe(1)
    await vi.advanceTimersByTimeAsync(AUTONAT_PRIVATE_WALK_INTERVAL_MS)
    expect(walks).toBe(2)

    // A router that starts forwarding a port: public again, AutoNAT's own pace.
    reachability.become('public')
    await vi.advanceTimersByTimeAsync(AUTONAT_WALK_INTERVAL_MS)
    expect(walks).toBe(3)
    findPeers.stop()
  })

  it('leaves a service of another shape alone', () => {
    const reachability = new FakeReachability()
    expect(() => slowAutoNatWalkWhenPrivate(reachability, {})).not.toThrow()
    expect(() => slowAutoNatWalkWhenPrivate(reachability, undefined)).not.toThrow()
    expect(reachability.listenerCount('change')).toBe(0)
  })
})
