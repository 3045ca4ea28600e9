/**
 * Messages and bytes on this node's own protocols, counted where the frames are written and read.
 * Plain numbers that only ever grow, read when someone asks (`node.counters()`, a Prometheus
 * scrape): counting costs an addition per write, where an event per frame would cost an object.
 */

/** What went over one protocol since the node started, in each direction. */
export interface ProtocolTraffic {
  /** The protocol id, e.g. `/p2p-ai/task/1.0.0`. */
  readonly protocol: string
  /** Frames received (each a message: an envelope or a control message). */
  messagesIn: number
  /** Bytes received, length prefixes included. */
  bytesIn: number
  messagesOut: number
  bytesOut: number
}

/** The node's traffic counters, one set per protocol. */
export class TrafficCounters {
  readonly #byProtocol = new Map<string, ProtocolTraffic>()

  /** The live counters of `protocol` (created at zero), for the code that writes and reads its frames. */
  of(protocol: string): ProtocolTraffic {
    let traffic = this.#byProtocol.get(protocol)
    if (traffic === undefined) {
      traffic = { protocol, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 }
      this.#byProtocol.set(protocol, traffic)
    }
    return traffic
  }

  /** A copy of every protocol's counters. */
  snapshot(): ProtocolTraffic[] {
    return [...this.#byProtocol.values()].map((t) => ({ ...t }))
  }
}
