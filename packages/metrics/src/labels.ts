/**
 * Label values with a bounded set: a label that can take any value a peer sends (a task type, an
 * error code) would let one peer grow the exposition without end. Values are kept as first seen
 * up to a cap; later ones, and anything not shaped like a name, become `other`.
 */

/** What a capped label reports instead of a value over the cap or of an odd shape. */
export const OTHER = 'other'

/** Distinct task types per label, and error codes per label, before `other`. */
export const MAX_LABEL_VALUES = 64

/** Task type names (`embed`, `my-task.v2`) and error codes (`ERR_BUSY`). */
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/

export class CappedLabel {
  readonly #seen = new Set<string>()
  readonly #max: number

  constructor(max = MAX_LABEL_VALUES) {
    this.#max = max
  }

  /** `value` if it is a name and among the first `max` seen, else `other`. */
  of(value: string | undefined): string {
    if (value === undefined) return OTHER
    if (this.#seen.has(value)) return value
    if (this.#seen.size >= this.#max || !NAME.test(value)) return OTHER
    this.#seen.add(value)
    return value
  }
}

/** The transport of a connection by its remote address. */
export function transportOf(remoteAddr: string): 'tcp' | 'websockets' | 'quic' | 'other' {
  // A relayed connection's address ends in /p2p-circuit/...: its transport is the relay's hop.
  const hop = remoteAddr.split('/p2p-circuit')[0] ?? remoteAddr
  if (hop.includes('/quic')) return 'quic'
  if (hop.includes('/ws') || hop.includes('/wss') || hop.includes('/tls/ws')) return 'websockets'
  if (hop.includes('/tcp/')) return 'tcp'
  return 'other'
}
