/** A listener for an event whose `detail` is a `T`. */
export type Listener<T> = ((event: CustomEvent<T>) => void) | { handleEvent(event: CustomEvent<T>): void }

/** Options of `addEventListener` (`capture` and `passive` mean nothing outside the DOM). */
export interface ListenerOptions {
  readonly once?: boolean
  readonly signal?: AbortSignal
}

type Wrapper = (event: Event) => void

/**
 * An `EventTarget` whose event names and `detail` types are checked by TypeScript, and which knows
 * whether anyone listens, so the engine skips building events nobody reads (building the snapshot
 * and the event is most of an event's cost on the hot path).
 */
export class TypedEventTarget<EventMap> extends EventTarget {
  // Each listener is registered through a wrapper we own, so `once` and `signal` removals are seen
  // here and the count stays exact.
  readonly #listeners = new Map<string, Map<unknown, Wrapper>>()

  /** Number of listeners registered for `type`. */
  listenerCount(type: keyof EventMap & string): number {
    return this.#listeners.get(type)?.size ?? 0
  }

  override addEventListener<K extends keyof EventMap & string>(
    type: K,
    listener: Listener<EventMap[K]> | null,
    options?: boolean | ListenerOptions,
  ): void {
    if (listener == null) return
    const opts = typeof options === 'object' ? options : {}
    if (opts.signal?.aborted === true) return
    let byListener = this.#listeners.get(type)
    if (byListener == null) {
      byListener = new Map()
      this.#listeners.set(type, byListener)
    }
    if (byListener.has(listener)) return
    const wrapper: Wrapper = (event) => {
      if (opts.once === true) this.removeEventListener(type, listener)
      if (typeof listener === 'function') listener.call(this, event as CustomEvent<EventMap[K]>)
      else listener.handleEvent(event as CustomEvent<EventMap[K]>)
    }
    byListener.set(listener, wrapper)
    super.addEventListener(type, wrapper)
    opts.signal?.addEventListener('abort', () => this.removeEventListener(type, listener), { once: true })
  }

  override removeEventListener<K extends keyof EventMap & string>(
    type: K,
    listener: Listener<EventMap[K]> | null,
  ): void {
    if (listener == null) return
    const byListener = this.#listeners.get(type)
    const wrapper = byListener?.get(listener)
    if (byListener == null || wrapper == null) return
    byListener.delete(listener)
    if (byListener.size === 0) this.#listeners.delete(type)
    super.removeEventListener(type, wrapper)
  }

  /** Dispatches `new CustomEvent(type, { detail })` if anyone listens; `detail` is built lazily. */
  emit<K extends keyof EventMap & string>(type: K, detail: () => EventMap[K]): void {
    if (!this.#listeners.has(type)) return
    this.dispatchEvent(new CustomEvent(type, { detail: detail() }))
  }
}
