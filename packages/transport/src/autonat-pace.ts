import { AUTONAT_PRIVATE_WALK_INTERVAL_MS, AUTONAT_WALK_INTERVAL_MS } from './constants.js'
import type { ReachabilityService } from './reachability.js'

/**
 * AutoNAT v2 walks the DHT for 10 s every minute while any of the node's addresses is unverified,
 * dialling each peer it finds by address alone (so a new connection each time, even to a peer it is
 * connected to). Behind a NAT the addresses peers observe never verify, so an idle home node spent
 * a sixth of every minute opening connections: 12–18 KB/s and 5–13 % of a core in the simulated
 * internet. Once the node knows it is private, the walk runs every `AUTONAT_PRIVATE_WALK_INTERVAL_MS`
 * instead, and at AutoNAT's own pace again if it stops being private. AutoNAT still checks the
 * node's addresses with every peer that connects, so a router that starts forwarding a port is
 * noticed as before. libp2p has no option for the walk's pace; this reaches into the service and
 * does nothing when its shape is not the one it knows.
 */
export function slowAutoNatWalkWhenPrivate(
  reachability: Pick<ReachabilityService, 'addEventListener' | 'reachability'>,
  autonat: unknown,
): void {
  // @libp2p/autonat-v2 2.x: the service's client holds the walk, a repeating task.
  const walk = (autonat as { client?: { findPeers?: { setInterval?: (ms: number) => void } } } | undefined)
    ?.client?.findPeers
  if (typeof walk?.setInterval !== 'function') {
    return
  }
  const setInterval = walk.setInterval.bind(walk)
  const pace = (private_: boolean): void => {
    setInterval(private_ ? AUTONAT_PRIVATE_WALK_INTERVAL_MS : AUTONAT_WALK_INTERVAL_MS)
  }
  if (reachability.reachability === 'private') pace(true)
  reachability.addEventListener('change', (evt) => {
    pace(evt.detail.reachability === 'private')
  })
}
