/**
 * Signed envelopes: sealing (validate, canonicalize, sign) and opening (validate, check the
 * signer, the clock, the signature and the nonce, in that order: cheap checks first, and a nonce
 * is only remembered once its signature proved it genuine).
 */
import { Buffer } from 'node:buffer'
import { createHash, randomFillSync } from 'node:crypto'
import { type IdentityInit, publicKeyFromPeerId, verifySignature } from '@p2p-ai/identity'
import { canonicalize } from './canonical-json.js'
import { DEFAULT_MAX_SKEW_MS, NONCE_BYTES, PROTOCOL_MAJOR, SIGNING_PREFIX } from './constants.js'
import {
  BadSignatureError,
  InvalidJsonValueError,
  InvalidMessageError,
  InvalidOptionError,
  ReplayedNonceError,
  SignerMismatchError,
  StaleMessageError,
} from './errors.js'
import {
  type Envelope,
  type MessageType,
  type Payloads,
  type UnsignedEnvelope,
  validateEnvelope,
  validatePayload,
} from './messages.js'
import type { ReplayCache } from './replay-cache.js'

/** Anything that can sign for a PeerId; an `Identity` from `@p2p-ai/identity` is one. */
export interface Signer {
  readonly peerId: string
  sign(data: Uint8Array): Uint8Array
}

export interface SealEnvelopeOptions {
  /**
   * The envelope timestamp, ms since the epoch.
   *
   * @default Date.now()
   */
  now?: number
  /**
   * The 16 nonce bytes. Only for reproducible test vectors: a reused nonce gets the message
   * refused as a replay.
   *
   * @default 16 bytes from the system CSPRNG
   */
  nonce?: Uint8Array
}

export interface OpenEnvelopeOptions extends IdentityInit {
  /** Where accepted nonces are remembered. Share one per node across connections. */
  replayCache: ReplayCache
  /**
   * The remote PeerId of the connection the message arrived on, as the transport authenticated
   * it (Noise). When set, `from` must equal it.
   */
  expectedSender?: string
  /**
   * The receiver's clock, ms since the epoch.
   *
   * @default Date.now()
   */
  now?: number
  /**
   * Accepted difference between `ts` and `now`, in both directions.
   *
   * @default 300_000 (5 minutes)
   */
  maxSkewMs?: number
}

/** An envelope whose signature was made or checked, with the digest of what was signed. */
export interface SignedEnvelope<T extends MessageType = MessageType> {
  readonly envelope: Envelope<T>
  /**
   * SHA-256 of the signing input, unpadded base64url (computed on first access). A task result
   * quotes its request's digest as `requestHash`, binding the two.
   */
  readonly digest: string
  /**
   * The envelope as JSON text: the canonical JSON that was signed, with `sig` appended as the
   * last member. Frame it with `encodeJsonFrame` to send or forward the envelope without
   * serializing it again.
   */
  readonly json: string
}

/**
 * The bytes an envelope signature covers: the UTF-8 encoding of {@link SIGNING_PREFIX}
 * followed by the RFC 8785 canonical JSON of the envelope without `sig`.
 *
 * @throws {InvalidJsonValueError} if the envelope holds a value JSON cannot represent.
 */
export function signingInput(unsigned: UnsignedEnvelope): Uint8Array {
  return encodeSigningInput(canonicalize(unsigned))
}

/** SHA-256 of a signing input, unpadded base64url: an envelope's `digest`. */
export function digestOf(signingInputBytes: Uint8Array): string {
  return createHash('sha256').update(signingInputBytes).digest('base64url')
}

/**
 * Validates `payload`, wraps it in an envelope from `signer` and signs it.
 *
 * @throws {InvalidMessageError} if the payload does not match the schema of `type`.
 * @throws {SignerMismatchError} if a task request names a `requester` other than the signer.
 * @throws {InvalidOptionError} if `now` or `nonce` are malformed.
 */
export function sealEnvelope<T extends MessageType>(
  signer: Signer,
  type: T,
  payload: Payloads[T],
  options: SealEnvelopeOptions = {},
): SignedEnvelope<T> {
  validatePayload(type, payload)
  if (type === 'task.request' && (payload as Payloads['task.request']).requester !== signer.peerId) {
    throw new SignerMismatchError('a task request must name its signer as requester')
  }
  const ts = options.now ?? Date.now()
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new InvalidOptionError(`now must be a non-negative integer (ms since epoch), got ${String(ts)}`)
  }
  if (options.nonce !== undefined && options.nonce.length !== NONCE_BYTES) {
    throw new InvalidOptionError(`nonce must be ${NONCE_BYTES} bytes, got ${options.nonce.length}`)
  }
  const unsigned = {
    v: PROTOCOL_MAJOR,
    type,
    from: signer.peerId,
    ts,
    nonce: options.nonce === undefined ? freshNonce() : toBase64url(options.nonce),
    payload,
  } as UnsignedEnvelope
  const canonical = canonicalOrInvalid(unsigned)
  const input = encodeSigningInput(canonical)
  const sig = toBase64url(signer.sign(input))
  return new Signed({ ...unsigned, sig } as Envelope<T>, canonical, input)
}

/**
 * Validates and authenticates an untrusted value (typically a decoded frame) and returns it as a
 * typed envelope. Checks, in order: version, schema, signer identity, clock skew, signature,
 * nonce. A nonce is recorded only when everything else passed.
 *
 * @throws {UnsupportedVersionError} `v` is another major version.
 * @throws {InvalidMessageError} schema mismatch, with the field `path`.
 * @throws {SignerMismatchError} `from` is not `expectedSender`, or a request's `requester` is not `from`.
 * @throws {StaleMessageError} `ts` is outside `now ± maxSkewMs`, or older than the replay cache remembers.
 * @throws {BadSignatureError} `sig` does not verify under the key in `from`.
 * @throws {ReplayedNonceError} `from` already used this nonce.
 */
export function openEnvelope(value: unknown, options: OpenEnvelopeOptions): SignedEnvelope {
  const now = options.now ?? Date.now()
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
  if (!Number.isFinite(now)) {
    throw new InvalidOptionError(`now must be a finite number, got ${String(now)}`)
  }
  if (!Number.isSafeInteger(maxSkewMs) || maxSkewMs < 0) {
    throw new InvalidOptionError(`maxSkewMs must be a non-negative integer, got ${String(maxSkewMs)}`)
  }

  const envelope = validateEnvelope(value)

  if (options.expectedSender !== undefined && envelope.from !== options.expectedSender) {
    throw new SignerMismatchError(
      `message claims to come from ${envelope.from} but the connection is with ${options.expectedSender}`,
    )
  }
  if (envelope.type === 'task.request' && envelope.payload.requester !== envelope.from) {
    throw new SignerMismatchError(
      `task request names requester ${envelope.payload.requester} but is signed by ${envelope.from}`,
    )
  }

  const skew = envelope.ts - now
  if (skew > maxSkewMs || skew < -maxSkewMs) {
    throw new StaleMessageError(
      `message timestamp is ${Math.abs(skew)} ms ${skew > 0 ? 'ahead of' : 'behind'} this node's clock ` +
        `(at most ${maxSkewMs} ms accepted)`,
    )
  }

  const publicKey = publicKeyOf(envelope.from)
  const { sig, ...unsigned } = envelope
  const canonical = canonicalOrInvalid(unsigned as UnsignedEnvelope)
  const input = encodeSigningInput(canonical)
  const init = options.crypto === undefined ? undefined : { crypto: options.crypto }
  if (!verifySignature(publicKey, input, fromBase64url(sig), init)) {
    throw new BadSignatureError(`signature does not verify under the key of ${envelope.from}`)
  }

  const verdict = options.replayCache.check(`${envelope.from}/${envelope.nonce}`, envelope.ts, now, maxSkewMs)
  if (verdict === 'replayed') {
    throw new ReplayedNonceError(`nonce ${envelope.nonce} from ${envelope.from} was already used`)
  }
  if (verdict === 'forgotten') {
    throw new StaleMessageError(
      'message is older than the replay cache can vouch for (the cache is full: see maxEntries)',
    )
  }
  return new Signed(envelope, canonical, input)
}

class Signed<T extends MessageType> implements SignedEnvelope<T> {
  readonly envelope: Envelope<T>
  readonly json: string
  readonly #input: Uint8Array
  #digest: string | undefined

  constructor(envelope: Envelope<T>, canonical: string, input: Uint8Array) {
    this.envelope = envelope
    // `sig` is base64url, so it needs no escaping; member order does not matter to receivers.
    this.json = `${canonical.slice(0, -1)},"sig":"${envelope.sig}"}`
    this.#input = input
  }

  get digest(): string {
    this.#digest ??= digestOf(this.#input)
    return this.#digest
  }
}

// One CSPRNG call costs about as much as canonicalizing a message, so draw entropy for 256
// nonces at a time (as Node.js does for randomUUID). Nonces need to be unpredictable and
// unique, not secret.
const NONCES_PER_REFILL = 256
const noncePool = new Uint8Array(NONCE_BYTES * NONCES_PER_REFILL)
let noncePoolOffset = noncePool.length

function freshNonce(): string {
  if (noncePoolOffset === noncePool.length) {
    randomFillSync(noncePool)
    noncePoolOffset = 0
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES)
  noncePoolOffset += NONCE_BYTES
  return toBase64url(nonce)
}

// Decoding a PeerId (base58) costs about as much as the schema check; peers are few and send
// many messages, so remember the keys of the last ones seen. Cleared wholesale when full.
const PUBLIC_KEY_MEMO_LIMIT = 1024
const publicKeys = new Map<string, Uint8Array>()

function publicKeyOf(peerId: string): Uint8Array {
  let publicKey = publicKeys.get(peerId)
  if (publicKey === undefined) {
    try {
      publicKey = publicKeyFromPeerId(peerId)
    } catch (err) {
      throw new InvalidMessageError('from', `not an Ed25519 PeerId: ${(err as Error).message}`)
    }
    if (publicKeys.size >= PUBLIC_KEY_MEMO_LIMIT) {
      publicKeys.clear()
    }
    publicKeys.set(peerId, publicKey)
  }
  return publicKey
}

function encodeSigningInput(canonical: string): Uint8Array {
  const bytes = Buffer.from(SIGNING_PREFIX + canonical, 'utf8')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function canonicalOrInvalid(unsigned: UnsignedEnvelope): string {
  try {
    return canonicalize(unsigned)
  } catch (err) {
    if (err instanceof InvalidJsonValueError) {
      throw new InvalidMessageError(err.path, err.reason)
    }
    throw err
  }
}

function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

function fromBase64url(text: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64url')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
