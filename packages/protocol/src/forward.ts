/**
 * Forwarding (minor 1, docs/protocol.md §2.5): a `task.forward` carries the requester's signed
 * `task.request` unchanged through relays, with a hop budget (`ttl`) and the route so far. Each
 * hop signs its own wrapper; the request inside keeps the requester's signature, so the provider
 * at the end verifies who asked for what, and its result quotes the request's digest exactly as
 * on a direct request. Relays cannot change the request or the result without breaking a
 * signature.
 */
import {
  type OpenEnvelopeOptions,
  openEnvelope,
  type SignedEnvelope,
  type Signer,
  sealEnvelope,
} from './envelope.js'
import { ForwardLoopError, InvalidMessageError, SignerMismatchError } from './errors.js'
import type { Envelope } from './messages.js'
import type { TraceContext } from './trace.js'

/** A verified `task.forward`, with its verified request. */
export interface OpenedForward {
  /** The wrapper, signed by the sender (the previous hop). */
  readonly forward: SignedEnvelope<'task.forward'>
  /** The requester's request, verified: its `digest` is what the result must quote. */
  readonly request: SignedEnvelope<'task.request'>
  /** Links the task may still travel beyond the receiver. */
  readonly ttl: number
  /** The requester first, the sender last. */
  readonly route: readonly string[]
  /** The sending hop's trace context (minor 3), if it sent one. */
  readonly trace: TraceContext | undefined
}

export interface OpenForwardOptions extends OpenEnvelopeOptions {
  /** The receiving node's PeerId: a route that already holds it is a loop. */
  receiver: string
}

/**
 * Wraps a signed request for the next hop: `route` is the route so far with the signer appended
 * by this function, `ttl` the links the task may travel beyond the receiver, `trace` this hop's
 * trace context (minor 3: only towards a receiver that announced minor 3 or later).
 *
 * @throws {InvalidMessageError} if `ttl` or the route are out of bounds.
 */
export function sealForward(
  signer: Signer,
  request: Envelope<'task.request'>,
  ttl: number,
  route: readonly string[],
  trace?: TraceContext,
): SignedEnvelope<'task.forward'> {
  if (request.sig === undefined) {
    // The provider at the end may not speak minor 2, and the proof would name a batch it never saw.
    throw new InvalidMessageError(
      'payload.request.sig',
      'a forwarded request must carry its own signature, not a batch signature',
    )
  }
  return sealEnvelope(signer, 'task.forward', {
    request: { ...request, sig: request.sig },
    ttl,
    route: [...route, signer.peerId],
    ...(trace === undefined ? {} : { trace }),
  })
}

/**
 * Verifies a `task.forward` as a receiver must (§2.5): the wrapper like any envelope (signature,
 * `from` = the connection's peer when `expectedSender` is given, clock, nonce), the route's last
 * entry is its signer, the receiver is not on the route, then the request inside (signature,
 * clock, nonce; its signer is the route's first entry). The request is not checked against the
 * connection: it comes from further away.
 *
 * @throws {ForwardLoopError} the receiver is already on the route.
 * @throws {SignerMismatchError} the route does not start with the requester or end with the sender.
 * @throws the errors of `openEnvelope`, for either envelope.
 */
export function openForward(value: unknown, options: OpenForwardOptions): OpenedForward {
  const { receiver, ...open } = options
  const forward = openEnvelope(value, open)
  if (forward.envelope.type !== 'task.forward') {
    throw new InvalidMessageError('type', `expected task.forward, got ${forward.envelope.type}`)
  }
  const { payload, from } = forward.envelope
  if (payload.route.at(-1) !== from) {
    throw new SignerMismatchError(`a forward's route must end with its signer ${from}`)
  }
  if (payload.route.includes(receiver)) {
    throw new ForwardLoopError(`task ${payload.request.payload.id} came back to ${receiver}`)
  }
  const { expectedSender: _, ...inner } = open
  const request = openEnvelope(payload.request, inner) as SignedEnvelope<'task.request'>
  if (payload.route[0] !== request.envelope.from) {
    throw new SignerMismatchError(
      `a forward's route must start with the requester ${request.envelope.from}, not ${payload.route[0]}`,
    )
  }
  return {
    forward: forward as SignedEnvelope<'task.forward'>,
    request,
    ttl: payload.ttl,
    route: payload.route,
    trace: payload.trace,
  }
}
