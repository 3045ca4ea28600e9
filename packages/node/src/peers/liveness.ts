/**
 * The heartbeat: a ping per connected peer and period, time-boxed. The directory decides what an
 * answer or a silence means; this only keeps time and makes sure a peer never has two pings in
 * flight.
 */
import type { PeerId } from '@libp2p/interface'
import type { PeerDirectorySettings, PeerNetwork } from './types.js'

/** How a heartbeat went: the round-trip time, why it failed, or `busy` (a ping was in flight already). */
export type Beat = number | { readonly reason: string } | 'busy'

export class PeerLiveness {
  readonly #network: PeerNetwork
  #settings: PeerDirectorySettings
  readonly #inFlight = new Set<string>()
  readonly #stop = new AbortController()
  #timer: NodeJS.Timeout | undefined

  constructor(network: PeerNetwork, settings: PeerDirectorySettings) {
    this.#network = network
    this.#settings = settings
  }

  get settings(): Readonly<PeerDirectorySettings> {
    return this.#settings
  }

  /** Calls `round` every `heartbeatIntervalMs`. */
  start(round: () => void): void {
    clearInterval(this.#timer)
    this.#timer = setInterval(round, this.#settings.heartbeatIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#stop.abort()
  }

  /** New settings; a running heartbeat moves to the new period at once. */
  configure(settings: Partial<PeerDirectorySettings>, round: () => void): void {
    const periodChanged =
      settings.heartbeatIntervalMs !== undefined &&
      settings.heartbeatIntervalMs !== this.#settings.heartbeatIntervalMs
    this.#settings = { ...this.#settings, ...settings }
    if (periodChanged && this.#timer !== undefined) this.start(round)
  }

  /** One heartbeat of `peer` within `heartbeatTimeoutMs`. */
  async beat(peer: PeerId): Promise<Beat> {
    const key = peer.toString()
    if (this.#inFlight.has(key)) return 'busy'
    this.#inFlight.add(key)
    try {
      const timeoutMs = this.#settings.heartbeatTimeoutMs
      const outcome = await this.ping(peer, timeoutMs)
      if (typeof outcome === 'number') return outcome
      return {
        reason:
          outcome === 'timeout'
            ? `no heartbeat answer within ${timeoutMs} ms`
            : `heartbeat failed: ${outcome.message}`,
      }
    } finally {
      this.#inFlight.delete(key)
    }
  }

  /** One ping within `timeoutMs`: the round-trip time, `timeout`, or the error. */
  async ping(peer: PeerId, timeoutMs: number): Promise<number | 'timeout' | Error> {
    // setTimeout rather than AbortSignal.timeout: the timer is cleared as soon as the ping settles.
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
    const onStop = (): void => controller.abort(this.#stop.signal.reason)
    this.#stop.signal.addEventListener('abort', onStop, { once: true })
    try {
      return await this.#network.ping(peer, { signal: controller.signal })
    } catch (err) {
      return controller.signal.aborted && !this.#stop.signal.aborted ? 'timeout' : (err as Error)
    } finally {
      clearTimeout(timer)
      this.#stop.signal.removeEventListener('abort', onStop)
    }
  }
}
