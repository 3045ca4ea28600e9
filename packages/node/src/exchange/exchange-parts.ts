/**
 * The parts of a task exchange, built together. They reach each other, and the exchange, through
 * closures read at call time, so no part needs another to exist before it is built.
 */
import { batchCache, openForward, type ReplayCache } from '@p2p-ai/protocol'
import type { AccessPolicy } from './access-policy.js'
import { CapabilityAnnouncer } from './capabilities.js'
import type { TaskExchangeComponents } from './exchange.js'
import type { NumericInit, TaskExchangeInit } from './exchange-init.js'
import { Forwarding } from './forwarding.js'
import { PeerViews } from './peer-views.js'
import { TaskProvider } from './provider.js'
import type { ReputationBook } from './reputation.js'
import { TaskRequester } from './requester.js'
import type { EnvelopeChecks } from './wire.js'

export interface ExchangeParts {
  readonly provider: TaskProvider
  readonly requester: TaskRequester
  readonly forwarding: Forwarding
  readonly announcer: CapabilityAnnouncer
  readonly views: PeerViews
}

/** What the parts share with the exchange that owns them. */
export interface ExchangeShared {
  readonly replay: ReplayCache
  readonly reputation: ReputationBook
  readonly policy: AccessPolicy
  /** Protocol minor the peer announced. */
  readonly peerMinor: (peer: string) => number | undefined
  runsLocally(type: string): boolean
  started(): boolean
}

export function exchangeParts(
  components: TaskExchangeComponents,
  init: TaskExchangeInit,
  settled: NumericInit,
  shared: ExchangeShared,
): ExchangeParts {
  const { peerMinor } = shared
  const checks: EnvelopeChecks = {
    replayCache: shared.replay,
    batchCache: batchCache(),
    ...(init.crypto === undefined ? {} : { crypto: init.crypto }),
  }
  const provider = new TaskProvider({
    engine: components.engine,
    signer: components.signer,
    checks,
    peerMinor,
    log: components.log,
    maxFrameBytes: settled.maxFrameBytes,
    maxTasksPerPeer: settled.maxTasksPerPeer,
    persist: init.storeServedTasks === true ? 'background' : 'memory',
    admit: (sender, requester) => shared.policy.admit(sender, requester),
    forwarding: {
      open: (value, sender) =>
        openForward(value, { ...checks, expectedSender: sender, receiver: components.peerId }),
      runsLocally: (type) => shared.runsLocally(type),
      relay: (opened, upstream) => forwarding.relay(opened, upstream),
    },
  })
  const requester = new TaskRequester({
    transport: components.transport,
    signer: components.signer,
    checks,
    peerMinor,
    log: components.log,
    maxFrameBytes: settled.maxFrameBytes,
    streamIdleMs: settled.streamIdleMs,
    livenessIdleMs: settled.livenessIdleMs,
    livenessTimeoutMs: settled.livenessTimeoutMs,
  })
  const forwarding: Forwarding = new Forwarding({
    self: components.peerId,
    signer: components.signer,
    transport: components.transport,
    requester,
    reputation: shared.reputation,
    policy: shared.policy,
    log: components.log,
    neighbours: () => views.list(),
    runsLocally: (type) => shared.runsLocally(type),
    maxHops: settled.maxHops,
    relay: init.relay ?? true,
    acceptTimeoutMs: settled.acceptTimeoutMs,
    maxFrameBytes: settled.maxFrameBytes,
  })
  const announcer = new CapabilityAnnouncer({
    transport: components.transport,
    signer: components.signer,
    engine: components.engine,
    log: components.log,
    ...(init.agentVersion === undefined ? {} : { agentVersion: init.agentVersion }),
    // Nothing is reachable before start (no neighbours yet; the views do not even exist).
    reach: () => (shared.started() ? forwarding.reach() : []),
    peerMinor,
  })
  const views: PeerViews = new PeerViews({
    self: components.peerId,
    engine: components.engine,
    reputation: shared.reputation,
    outstanding: (peer) => requester.outstanding(peer),
    takePeak: (peer) => requester.takePeak(peer),
    rtt: components.peerRtt ?? (() => undefined),
    allows: (peer) => shared.policy.allows(peer),
    route: (spec, tried) => forwarding.route(spec, tried),
  })
  return { provider, requester, forwarding, announcer, views }
}
