/**
 * Capability announcements: what this node runs (task types, models with their hashes) and how
 * busy it is (concurrency, running, queued), pushed to every peer that speaks the announce
 * protocol when it connects and again whenever it changes, at most once a second per peer
 * (docs/protocol.md §2.2).
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
  MAX_CONCURRENCY,
  MAX_MODELS,
  MAX_QUEUE_LENGTH,
  MAX_TASK_TYPES,
  PROTOCOL_MINOR,
  type ReachEntry,
  type Signer,
  sealEnvelope,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import { ANNOUNCE_MIN_INTERVAL_MS, ANNOUNCE_TIMEOUT_MS } from './constants.js'

const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
const MODEL_ID = /^[A-Za-z0-9._:@/+-]{1,128}$/
const SHA256 = /^[0-9a-f]{64}$/
/** How often the engine is looked at for changes. */
const POLL_MS = 250

/**
 * This node's capabilities as the protocol announces them. Task types and models whose names the
 * wire format cannot carry are left out (they stay usable locally).
 */
export function capabilitiesOf(
  engine: TaskEngine,
  agentVersion: string | undefined,
  reach?: readonly ReachEntry[],
): Capabilities {
  const caps = engine.capabilities()
  const taskTypes = [...new Set(caps.taskTypes.map((t) => t.name).filter((name) => TASK_TYPE.test(name)))]
  const models: Capabilities['models'] = []
  const seen = new Set<string>()
  for (const model of caps.models) {
    if (!MODEL_ID.test(model.name) || !SHA256.test(model.sha256) || seen.has(model.name)) continue
    const types = [...new Set(model.taskTypes.filter((name) => TASK_TYPE.test(name)))].slice(
      0,
      MAX_TASK_TYPES,
    )
    if (types.length === 0) continue
    seen.add(model.name)
    models.push({
      id: model.name,
      sha256: model.sha256,
      taskTypes: types,
      ...(Number.isSafeInteger(model.sizeBytes) && model.sizeBytes >= 0 ? { bytes: model.sizeBytes } : {}),
    })
  }
  return {
    protocolMinor: PROTOCOL_MINOR,
    ...(agentVersion === undefined ? {} : { agentVersion: agentVersion.slice(0, 128) }),
    taskTypes: taskTypes.slice(0, MAX_TASK_TYPES),
    models: models.slice(0, MAX_MODELS),
    concurrency: clamp(caps.concurrency, 1, MAX_CONCURRENCY),
    load: {
      running: clamp(caps.running, 0, MAX_CONCURRENCY),
      queued: clamp(caps.queued, 0, MAX_QUEUE_LENGTH),
    },
    ...(reach === undefined || reach.length === 0 ? {} : { reach: [...reach] }),
  }
}

/** The first minor version that knows `reach`: older peers get announcements without it. */
const REACH_MINOR = 1

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(n)))
}

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
  /** The protocol minor a peer announced, if known: `reach` goes only to peers at 1 or more. */
  peerMinor?: (peer: string) => number | undefined
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
}

/** Pushes this node's capabilities to its peers. */
export class CapabilityAnnouncer {
  readonly #init: CapabilityAnnouncerInit
  readonly #audience = new Map<string, Audience>()
  readonly #minIntervalMs: number
  #current: Capabilities
  #key: string
  /** The announcement without `reach`, for peers that may not know it, and its key. */
  #base: Capabilities
  #baseKey: string
  readonly #sealed = new Map<string, { key: string; nonce: string; frame: Uint8Array }>()
  #poll: NodeJS.Timeout | undefined
  #stopped = false

  constructor(init: CapabilityAnnouncerInit) {
    this.#init = init
    this.#minIntervalMs = init.minIntervalMs ?? ANNOUNCE_MIN_INTERVAL_MS
    this.#current = capabilitiesOf(init.engine, init.agentVersion, init.reach?.())
    this.#key = JSON.stringify(this.#current)
    this.#base = withoutReach(this.#current)
    this.#baseKey = JSON.stringify(this.#base)
  }

  /** What this node announces now. */
  get current(): Capabilities {
    return this.#current
  }

  start(): void {
    this.#stopped = false
    this.#poll ??= setInterval(() => this.refresh(), POLL_MS)
    this.#poll.unref()
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#poll)
    this.#poll = undefined
    for (const audience of this.#audience.values()) clearTimeout(audience.timer)
    this.#audience.clear()
  }

  /** Looks at the engine now; announces to everyone if anything changed. */
  refresh(): void {
    const caps = capabilitiesOf(this.#init.engine, this.#init.agentVersion, this.#init.reach?.())
    const key = JSON.stringify(caps)
    if (key === this.#key) return
    this.#current = caps
    this.#key = key
    this.#base = withoutReach(caps)
    this.#baseKey = JSON.stringify(this.#base)
    for (const audience of this.#audience.values()) this.#schedule(audience)
  }

  /** A peer announced itself: it may now understand (or no longer understand) `reach`. */
  peerAnnounced(peer: string): void {
    const audience = this.#audience.get(peer)
    if (audience !== undefined && audience.sentKey !== this.#variant(audience).key) this.#schedule(audience)
  }

  /** What `audience` is to receive: the full announcement, or the one without `reach`. */
  #variant(audience: Audience): { key: string; caps: Capabilities } {
    const minor = this.#init.peerMinor?.(audience.peerId.toString())
    if (minor !== undefined && minor >= REACH_MINOR) return { key: this.#key, caps: this.#current }
    return { key: this.#baseKey, caps: this.#base }
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
    const wait = Math.max(0, audience.lastSentAt + this.#minIntervalMs - performance.now())
    audience.timer = setTimeout(() => void this.#send(audience), wait)
    audience.timer.unref()
  }

  async #send(audience: Audience): Promise<void> {
    audience.timer = undefined
    if (this.#stopped || this.#audience.get(audience.peerId.toString()) !== audience) return
    const variant = this.#variant(audience)
    if (audience.sentKey === variant.key) return
    const key = variant.key
    const slot = variant.caps === this.#current ? 'full' : 'base'
    let sealed = this.#sealed.get(slot)
    if (sealed === undefined || sealed.key !== key || sealed.nonce === audience.sentNonce) {
      // One signature per change, shared by every peer; a fresh one for a peer that already has it.
      const signed = sealEnvelope(this.#init.signer, 'capabilities', variant.caps)
      sealed = { key, nonce: signed.envelope.nonce, frame: encodeJsonFrame(signed.json) }
      this.#sealed.set(slot, sealed)
    }
    audience.sending = true
    audience.lastSentAt = performance.now()
    const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)
    try {
      const stream = await this.#init.transport.dialProtocol(audience.peerId, ANNOUNCE_PROTOCOL, { signal })
      try {
        if (!stream.send(sealed.frame)) await stream.onDrain({ signal })
        await stream.close({ signal })
        // The receiver closes its side once it processed the announcement.
        for await (const _ of stream) {
          // nothing comes back
        }
      } catch (err) {
        stream.abort(err as Error)
        throw err
      }
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

function withoutReach(caps: Capabilities): Capabilities {
  if (caps.reach === undefined) return caps
  const { reach: _, ...base } = caps
  return base
}
