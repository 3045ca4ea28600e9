/**
 * A bounded map that evicts the least recently used entry: a Map's insertion order, with hits
 * re-inserted at the end. Used for caches of public data (public keys, peer IDs) only.
 */
export class LruCache<K, V> {
  readonly #max: number
  readonly #map = new Map<K, V>()

  constructor(max: number) {
    this.#max = max
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.#map.delete(key)
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value as K)
    this.#map.set(key, value)
  }

  get size(): number {
    return this.#map.size
  }
}
