/**
 * The events of a submitted task's handle, with the event target made when the first listener
 * comes: most tasks submitted from code are awaited and never listened to, and a Node.js
 * EventTarget (with main-event's bookkeeping on top) cost more to build than the rest of the
 * handle, then stayed in memory with it in the task history.
 */
import type { EventHandler } from 'main-event'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'

type AddOptions = Parameters<EventTarget['addEventListener']>[2]
type Detail<D> = Parameters<TypedEventEmitter<Record<string, CustomEvent<D>>>['safeDispatchEvent']>[1]

// biome-ignore lint/suspicious/noExplicitAny: main-event's own constraint on event maps
export class LazyEventTarget<Events extends Record<string, any>> implements TypedEventTarget<Events> {
  #emitter: TypedEventEmitter<Events> | undefined

  addEventListener<K extends keyof Events>(
    type: K,
    listener: EventHandler<Events[K]> | null,
    options?: AddOptions,
  ): void {
    this.#emitter ??= new TypedEventEmitter<Events>()
    this.#emitter.addEventListener(type, listener, options)
  }

  removeEventListener<K extends keyof Events>(
    type: K,
    listener?: EventHandler<Events[K]> | null,
    options?: boolean | EventListenerOptions,
  ): void
  removeEventListener(
    type: string,
    listener?: EventHandler<Event>,
    options?: boolean | EventListenerOptions,
  ): void
  removeEventListener(
    type: string,
    // biome-ignore lint/suspicious/noExplicitAny: both overloads' listeners
    listener?: EventHandler<any> | null,
    options?: boolean | EventListenerOptions,
  ): void {
    this.#emitter?.removeEventListener(type, listener ?? undefined, options)
  }

  /** Nobody listening: nothing to dispatch to, and nothing could cancel it. */
  dispatchEvent(event: Event): boolean {
    return this.#emitter?.dispatchEvent(event) ?? true
  }

  listenerCount(type: string): number {
    return this.#emitter?.listenerCount(type) ?? 0
  }

  safeDispatchEvent<D>(type: keyof Events, detail?: Detail<D>): boolean {
    return this.#emitter?.safeDispatchEvent(type, detail) ?? true
  }
}
