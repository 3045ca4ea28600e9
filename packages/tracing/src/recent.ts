/**
 * A bounded map of the newest entries: two generations, the older dropped whole when the newer is
 * full. Cheaper than evicting one entry at a time from a `Map`, whose iteration from the front
 * slows down behind the holes that many deletions leave.
 */
export class RecentMap<K, V> {
  readonly #half: number
  #current = new Map<K, V>()
  #previous = new Map<K, V>()

  /** Keeps at least `capacity / 2` and at most `capacity` of the newest entries. */
  constructor(capacity: number) {
    this.#half = Math.max(1, Math.floor(capacity / 2))
  }

  get(key: K): V | undefined {
    return this.#current.get(key) ?? this.#previous.get(key)
  }

  set(key: K, value: V): void {
    this.#current.set(key, value)
    if (this.#current.size >= this.#half) {
      this.#previous = this.#current
      this.#current = new Map()
    }
  }
}
