/**
 * Who may use this node, and whom it uses: everyone (`open`) or only the PeerIds on an
 * allowlist. With an allowlist, requests from other peers are rejected with `ERR_ACCESS_DENIED`
 * (also when they come through a relay: the requester and the sending hop must both be on it),
 * tasks are never sent or relayed to other peers, and a forwarded result signed by another peer is
 * refused. Connections themselves are not refused: that is the job of a private network
 * (`network.psk`), which keeps strangers from connecting at all.
 */
import { InvalidOptionError, TASK_ERROR_CODES, type WireError } from '@p2p-ai/protocol'

/** `open`: any peer. `allowlist`: only the listed PeerIds (and this node itself). */
export type AccessMode = 'open' | 'allowlist'

/** An access policy as configured. */
export interface AccessPolicyInit {
  /**
   * @default 'open'
   */
  mode?: AccessMode
  /**
   * PeerIds admitted when `mode` is `allowlist`. Ignored when `open`.
   *
   * @default []
   */
  allowlist?: readonly string[]
}

const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/

/** The policy in force; `set` replaces it at run time (a config reload). */
export class AccessPolicy {
  readonly #self: string
  #mode: AccessMode = 'open'
  #allowed: ReadonlySet<string> = new Set()

  /** @throws {InvalidOptionError} for an unknown mode or a malformed PeerId */
  constructor(self: string, init: AccessPolicyInit = {}) {
    this.#self = self
    this.set(init)
  }

  get mode(): AccessMode {
    return this.#mode
  }

  /** The PeerIds on the allowlist (whether or not the mode uses it). */
  get allowlist(): readonly string[] {
    return [...this.#allowed]
  }

  /**
   * Replaces the policy. Validates first: a bad policy changes nothing.
   *
   * @throws {InvalidOptionError}
   */
  set(init: AccessPolicyInit): void {
    const mode = init.mode ?? 'open'
    if (mode !== 'open' && mode !== 'allowlist') {
      throw new InvalidOptionError(`access.mode: expected 'open' or 'allowlist', got ${JSON.stringify(mode)}`)
    }
    const list = init.allowlist ?? []
    if (!Array.isArray(list)) throw new InvalidOptionError('access.allowlist: expected a list of PeerIds')
    for (const peer of list) {
      if (typeof peer !== 'string' || !PEER_ID.test(peer)) {
        throw new InvalidOptionError(
          `access.allowlist: expected PeerIds (12D3KooW…), got ${JSON.stringify(peer)}`,
        )
      }
    }
    this.#mode = mode
    this.#allowed = new Set(list)
  }

  /** Whether this node may exchange tasks with `peer` (itself always). */
  allows(peer: string): boolean {
    return this.#mode === 'open' || peer === this.#self || this.#allowed.has(peer)
  }

  /**
   * Whether a request may run (or be relayed) here: `sender` is the peer on the stream, `requester`
   * the node that signed the request (the same for a direct request). Undefined when admitted,
   * else the reject's error.
   */
  admit(sender: string, requester: string): WireError | undefined {
    if (this.allows(sender) && this.allows(requester)) return undefined
    const who = this.allows(requester) ? `relay ${sender}` : `requester ${requester}`
    return { code: TASK_ERROR_CODES.accessDenied, message: `${who} is not on this node's allowlist` }
  }
}
