/**
 * What the clients were told, as the drivers report it: every task id the API acknowledged, what
 * each task looked like when a client saw it final, and any acknowledged id the API did not know.
 * The harness keeps it outside the nodes, so a crash of a node cannot erase the evidence.
 */
import type { DriverEvent, FinalSeen } from './driver/protocol.js'

export interface Ack {
  /** The node whose API acknowledged it. */
  readonly node: string
  readonly at: number
  /** Submitted by `fill-queue` to a provider's own queue. */
  readonly fill: boolean
}

/** A refusal a correct client should not get (any error answer but 503 "try later" and 404 of a wait). */
export interface Refusal {
  readonly node: string
  readonly what: string
  readonly status: number
  readonly code: string
  readonly message: string
}

export class Ledger {
  readonly acks = new Map<string, Ack>()
  readonly finals = new Map<string, FinalSeen & { readonly node: string; readonly at: number }>()
  /** Acknowledged ids the API answered 404 for while a client waited. */
  readonly missing = new Map<string, { readonly node: string; readonly at: number }>()
  readonly refusals: Refusal[] = []

  record(node: string, event: DriverEvent): void {
    switch (event.ev) {
      case 'ack':
        this.acks.set(event.id, { node, at: event.at, fill: event.fill })
        return
      case 'final': {
        const { ev: _, ...final } = event
        this.finals.set(event.id, { ...final, node })
        return
      }
      case 'missing':
        this.missing.set(event.id, { node, at: event.at })
        return
      case 'refused':
        this.refusals.push({
          node,
          what: event.what,
          status: event.status,
          code: event.code,
          message: event.message,
        })
        return
      default:
    }
  }

  /** Acknowledged ids no client has seen final (or missing) yet. */
  pending(): string[] {
    const ids: string[] = []
    for (const id of this.acks.keys()) if (!this.finals.has(id) && !this.missing.has(id)) ids.push(id)
    return ids
  }

  /** Ids acknowledged by `node`'s API. */
  ackedBy(node: string): string[] {
    const ids: string[] = []
    for (const [id, ack] of this.acks) if (ack.node === node) ids.push(id)
    return ids
  }
}
