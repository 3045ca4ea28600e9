/**
 * Capability announcements: this node's capabilities (see capabilities.ts), pushed to every peer
 * that speaks the announce protocol when it connects and again whenever they change, at most once
 * a second per peer (docs/protocol.md §2.2).
 *
 * Changes are found by polling the engine a few times a second rather than by listening to its
 * task events: a listener would make the engine build an event object for every task, which at
 * thousands of tasks a second costs more than the announcements themselves.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import {
  ANNOUNCE_PROTOCOL,
  type Capabilities,
  encodeJsonFrame,
  type ReachEntry,
  type ResourceFigures,
  type Signer,
  sealEnvelope,
} from '@p2p-ai/protocol'
import { openStream, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import type { ProtocolTraffic } from '../traffic.js'
import {
  ANNOUNCEMENT_TIERS,
  type ContentAnnouncement,
  capabilitiesFor,
  capabilitiesOf,
} from './capabilities.js'
import { ANNOUNCE_MIN_INTERVAL_MS, ANNOUNCE_POLL_MS, ANNOUNCE_TIMEOUT_MS } from './constants.js'
import { announceOn } from './send.js'

export interface CapabilityAnnouncerInit {
  transport: Transport
  signer: Signer
  engine: TaskEngine
  log: Logger
  agentVersion?: string
  /** @default ANNOUNCE_MIN_INTERVAL_MS (1 s) */
  minIntervalMs?: number
  /** Task types reachable by forwarding, announced as `reach` (forwarding.ts). */
  reach?: () => readonly ReachEntry[]
  /**
   * The protocol minor a peer announced, if known: `reach` goes only to peers at 1 or more, the
   * generative model fields only to peers at 3 or more.
   */
  peerMinor?: (peer: string) => number | undefined
  /** Where announcements sent are counted. */
  traffic?: ProtocolTraffic
  /** A content plug-in: announced as `content`, with the models' CIDs (minor 5). */
  content?: ContentAnnouncement
  /** This node's machine and whether it takes tasks, announced as `resources` (minor 4). */
  resources?: () => ResourceFigures | undefined
}

interface Audience {
  readonly peerId: PeerId
  /** The announcement key this peer last received. */
  sentKey: string | undefined
  /** The nonce of the envelope it last received: it must never get the same envelope twice. */
  sentNonce: string | undefined
  lastSentAt: number
  timer: NodeJS.Timeout | undefined
  sending: boolean
  dirty: boolean
  /** A change it must hear of at once (a pause), not at the pace of load updates. */
  urgent: boolean
}

/** Pushes this node's capabilities to its peers. */
export class CapabilityAnnouncer {
  readonly #init: CapabilityAnnouncerInit
  readonly #audience = new Map<string, Audience>()
  readonly #minIntervalMs: number
  #current: Capabilities
  #key: string
  /** The announcement as peers of each tier of minor versions read it, and its key. */
  #variants: Variant[]
  readonly #sealed = new Map<number, { key: string; nonce: string; frame: Uint8Array }>()
  #poll: NodeJS.Timeout | undefined
  #stopped = false

  constructor(init: CapabilityAnnouncerInit) {
    this.#init = init
    this.#minIntervalMs = init.minIntervalMs ?? ANNOUNCE_MIN_INTERVAL_MS
    this.#current = this.#read()
    this.#key = JSON.stringify(this.#current)
    this.#variants = variantsOf(this.#current)
  }

  /** What this node announces now. */
  get current(): Capabilities {
    return this.#current
  }

  start(): void {
    this.#stopped = false
    this.#poll ??= setInterval(() => this.refresh(), ANNOUNCE_POLL_MS)
    this.#poll.unref()
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#poll)
    this.#poll = undefined
    for (const audience of this.#audience.values()) clearTimeout(audience.timer)
    this.#audience.clear()
  }

  /**
   * Looks at the engine now; announces to everyone if anything changed. `urgent`: without waiting
   * for the once-a-second pace (a pause or a resume must reach peers before they route tasks here).
   */
  refresh(options: { urgent?: boolean } = {}): void {
    const caps = this.#read()
    const key = JSON.stringify(caps)
    if (key === this.#key) return
    this.#current = caps
    this.#key = key
    this.#variants = variantsOf(caps)
    for (const audience of this.#audience.values()) {
      if (options.urgent === true) {
        audience.urgent = true
        clearTimeout(audience.timer)
        audience.timer = undefined
      }
      this.#schedule(audience)
    }
  }

  #read(): Capabilities {
    const i = this.#init
    return capabilitiesOf(i.engine, i.agentVersion, i.reach?.(), i.resources?.(), i.content)
  }

  /** A peer announced itself: it may now understand (or no longer understand) more of ours. */
  peerAnnounced(peer: string): void {
    const audience = this.#audience.get(peer)
    if (audience !== undefined && audience.sentKey !== this.#variant(audience).key) this.#schedule(audience)
  }

  /** What `audience` is to receive: the announcement as its protocol minor reads it. */
  #variant(audience: Audience): Variant {
    const minor = this.#init.peerMinor?.(audience.peerId.toString()) ?? 0
    let chosen = this.#variants[0] as Variant
    for (const variant of this.#variants) if (variant.tier <= minor) chosen = variant
    return chosen
  }

  /** A peer that speaks the announce protocol connected: it gets the current announcement now. */
  addPeer(peerId: PeerId): void {
    const peer = peerId.toString()
    let audience = this.#audience.get(peer)
    if (audience === undefined) {
      audience = {
        peerId,
        sentKey: undefined,
        sentNonce: undefined,
        lastSentAt: Number.NEGATIVE_INFINITY,
        timer: undefined,
        sending: false,
        dirty: false,
        urgent: false,
      }
      this.#audience.set(peer, audience)
    } else {
      // A new connection: whatever it got before may be forgotten, announce again.
      audience.sentKey = undefined
    }
    this.#schedule(audience)
  }

  removePeer(peer: string): void {
    const audience = this.#audience.get(peer)
    if (audience === undefined) return
    clearTimeout(audience.timer)
    this.#audience.delete(peer)
  }

  #schedule(audience: Audience): void {
    if (this.#stopped) return
    if (audience.sending) {
      audience.dirty = true
      return
    }
    if (audience.timer !== undefined) return
    const wait = audience.urgent
      ? 0
      : Math.max(0, audience.lastSentAt + this.#minIntervalMs - performance.now())
    audience.timer = setTimeout(() => void this.#send(audience), wait)
    audience.timer.unref()
  }

  async #send(audience: Audience): Promise<void> {
    audience.timer = undefined
    if (this.#stopped || this.#audience.get(audience.peerId.toString()) !== audience) return
    const variant = this.#variant(audience)
    if (audience.sentKey === variant.key) return
    const key = variant.key
    const slot = variant.tier
    let sealed = this.#sealed.get(slot)
    if (sealed === undefined || sealed.key !== key || sealed.nonce === audience.sentNonce) {
      // One signature per change, shared by every peer; a fresh one for a peer that already has it.
      const signed = sealEnvelope(this.#init.signer, 'capabilities', variant.caps)
      sealed = { key, nonce: signed.envelope.nonce, frame: encodeJsonFrame(signed.json) }
      this.#sealed.set(slot, sealed)
    }
    audience.sending = true
    audience.urgent = false
    audience.lastSentAt = performance.now()
    const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)
    try {
      // Announcements are small and rare: they go on a relayed connection too, when that is all
      // there is (the direct one once there is one).
      const stream = await openStream(this.#init.transport, audience.peerId, ANNOUNCE_PROTOCOL, {
        signal,
        runOnLimitedConnection: true,
      })
      await announceOn(stream, sealed.frame, signal, this.#init.traffic)
      audience.sentKey = key
      audience.sentNonce = sealed.nonce
    } catch (err) {
      this.#init.log.debug({ remotePeer: audience.peerId.toString(), err }, 'capability announcement failed')
    } finally {
      audience.sending = false
      const wanted = this.#variant(audience).key
      if (audience.dirty || audience.sentKey !== wanted) {
        audience.dirty = false
        if (audience.sentKey !== wanted && this.#audience.get(audience.peerId.toString()) === audience) {
          this.#schedule(audience)
        }
      }
    }
  }
}

/** The announcement as peers from protocol minor `tier` on read it. */
interface Variant {
  readonly tier: number
  readonly key: string
  readonly caps: Capabilities
}

function variantsOf(caps: Capabilities): Variant[] {
  return ANNOUNCEMENT_TIERS.map((tier) => {
    const read = capabilitiesFor(caps, tier)
    return { tier, key: JSON.stringify(read), caps: read }
  })
}
