/**
 * Signed envelopes: sealing (validate, canonicalize, sign) and opening (validate, check the
 * signer, the clock, the signature and the nonce, in that order: cheap checks first, and a nonce
 * is only remembered once its signature proved it genuine).
 */
import { Buffer } from 'node:buffer'
import { randomFillSync } from 'node:crypto'
import { type IdentityInit, publicKeyFromPeerId, verifySignature } from '@p2p-ai/identity'
import { type BatchCache, batchSigningInput, verifyBatchMember } from './batch-cache.js'
import { canonicalize } from './canonical-json.js'
import {
  DEFAULT_MAX_SKEW_MS,
  MAX_BATCH_SIZE,
  NONCE_BYTES,
  PROTOCOL_MAJOR,
  SIGNING_PREFIX,
} from './constants.js'
import {
  BadSignatureError,
  InvalidJsonValueError,
  InvalidMessageError,
  InvalidOptionError,
  ReplayedNonceError,
  SignerMismatchError,
  StaleMessageError,
} from './errors.js'
import { leafHash, merkleTree, sha256 } from './merkle.js'
import {
  type BatchProof,
  type Envelope,
  type MessageType,
  type Payloads,
  type SoloEnvelope,
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
  /**
   * Batch signatures already verified (minor 2). With it, the envelopes of one batch cost one
   * Ed25519 verification together; without it, each envelope verifies the batch signature itself
   * (correct, just slower). Share one per node.
   */
  batchCache?: BatchCache
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
  return sha256(signingInputBytes).toString('base64url')
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
): SignedEnvelope<T> & { readonly envelope: SoloEnvelope<T> } {
  const prepared = prepareEnvelope(signer, type, payload, options) as Prepared<T>
  const sig = toBase64url(signer.sign(prepared.input))
  const envelope = { ...prepared.unsigned, sig } as SoloEnvelope<T>
  return new Signed(
    envelope as Envelope<T>,
    prepared.canonical,
    prepared.input,
  ) as unknown as SignedEnvelope<T> & {
    readonly envelope: SoloEnvelope<T>
  }
}

/**
 * An envelope validated, stamped and canonicalized but not signed yet: its `digest` is already
 * final (a signature never changes it), so a requester can bind a result to a request before the
 * request is signed. Sign it with {@link sealPrepared}, alone or in a batch.
 */
export interface PreparedEnvelope<T extends MessageType = MessageType> {
  readonly unsigned: UnsignedEnvelope<T>
  /** SHA-256 of the signing input, unpadded base64url: the envelope's digest once signed. */
  readonly digest: string
  /**
   * UTF-8 bytes of the envelope's JSON without its signature. A signature adds at most
   * {@link MAX_SIGNATURE_JSON_BYTES} (a batch proof included), so a frame limit can be checked
   * before signing.
   */
  readonly byteLength: number
}

/**
 * Most bytes a signature adds to an envelope's JSON: `,"batch":{…}` with a proof of
 * MAX_BATCH_PATH digests is about 650; `,"sig":"…"` is 95.
 */
export const MAX_SIGNATURE_JSON_BYTES = 1024

/**
 * Validates `payload` and builds the envelope `sealEnvelope` would sign, without signing it.
 *
 * @throws the errors of {@link sealEnvelope}.
 */
export function prepareEnvelope<T extends MessageType>(
  signer: Pick<Signer, 'peerId'>,
  type: T,
  payload: Payloads[T],
  options: SealEnvelopeOptions = {},
): PreparedEnvelope<T> {
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
  // Members in canonical order, so that canonicalizing takes its fast path.
  const unsigned = {
    from: signer.peerId,
    nonce: options.nonce === undefined ? freshNonce() : toBase64url(options.nonce),
    payload,
    ts,
    type,
    v: PROTOCOL_MAJOR,
  } as UnsignedEnvelope<T>
  const canonical = canonicalOrInvalid(unsigned as UnsignedEnvelope)
  return new Prepared(unsigned, canonical, encodeSigningInput(canonical))
}

/**
 * Signs prepared envelopes of `signer`. One envelope gets its own signature (`sig`); two or more
 * (up to {@link MAX_BATCH_SIZE}) share one batch signature (docs/protocol.md §4.5): one Ed25519
 * signature over the Merkle root of their digests, each envelope carrying its inclusion proof.
 * Batch signatures are a minor 2 feature: only send them to peers that announced
 * `protocolMinor` ≥ 2, and never inside a `task.forward`.
 *
 * @throws {InvalidOptionError} if an envelope was prepared for another signer, or more than
 * MAX_BATCH_SIZE are given.
 */
export function sealPrepared<T extends MessageType>(
  signer: Signer,
  prepared: readonly PreparedEnvelope<T>[],
): SignedEnvelope<T>[] {
  const items = prepared as readonly Prepared<T>[]
  for (const item of items) {
    if (!(item instanceof Prepared)) throw new InvalidOptionError('expected envelopes from prepareEnvelope')
    if (item.unsigned.from !== signer.peerId) {
      throw new InvalidOptionError(
        `an envelope prepared for ${item.unsigned.from} cannot be signed by ${signer.peerId}`,
      )
    }
  }
  if (items.length === 1) {
    const item = items[0] as Prepared<T>
    const sig = toBase64url(signer.sign(item.input))
    return [
      new Signed({ ...item.unsigned, sig } as Envelope<T>, item.canonical, item.input, item.digestBytes),
    ]
  }
  if (items.length > MAX_BATCH_SIZE) {
    throw new InvalidOptionError(
      `a batch signature covers at most ${MAX_BATCH_SIZE} envelopes, got ${items.length}`,
    )
  }
  if (items.length === 0) return []
  const tree = merkleTree(items.map((item) => leafHash(item.digestBytes)))
  const sig = toBase64url(signer.sign(batchSigningInput(tree.root)))
  return items.map((item, index) => {
    const batch: BatchProof = {
      size: items.length,
      index,
      path: (tree.paths[index] ?? []).map((node) => toBase64url(node)),
      sig,
    }
    return new Signed(
      { ...item.unsigned, batch } as Envelope<T>,
      item.canonical,
      item.input,
      item.digestBytes,
    )
  })
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
  const { sig, batch, ...unsigned } = envelope
  const canonical = canonicalOrInvalid(unsigned as UnsignedEnvelope)
  const input = encodeSigningInput(canonical)
  const init = options.crypto === undefined ? undefined : { crypto: options.crypto }
  let digestBytes: Buffer | undefined
  if (batch === undefined) {
    if (!verifySignature(publicKey, input, fromBase64url(sig as string), init)) {
      throw new BadSignatureError(`signature does not verify under the key of ${envelope.from}`)
    }
  } else {
    digestBytes = sha256(input)
    verifyBatchMember(envelope.from, publicKey, digestBytes, batch, options.batchCache, init)
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
  return new Signed(envelope, canonical, input, digestBytes)
}

class Prepared<T extends MessageType> implements PreparedEnvelope<T> {
  readonly unsigned: UnsignedEnvelope<T>
  readonly canonical: string
  readonly input: Uint8Array
  readonly digestBytes: Buffer
  readonly digest: string
  readonly byteLength: number

  constructor(unsigned: UnsignedEnvelope<T>, canonical: string, input: Uint8Array) {
    this.unsigned = unsigned
    this.canonical = canonical
    this.input = input
    this.byteLength = input.byteLength - SIGNING_PREFIX.length
    this.digestBytes = sha256(input)
    this.digest = this.digestBytes.toString('base64url')
  }
}

class Signed<T extends MessageType> implements SignedEnvelope<T> {
  readonly envelope: Envelope<T>
  readonly json: string
  readonly #input: Uint8Array
  #digest: string | undefined

  constructor(envelope: Envelope<T>, canonical: string, input: Uint8Array, digestBytes?: Buffer) {
    this.envelope = envelope
    // `sig` and the proof's digests are base64url, so they need no escaping; member order does
    // not matter to receivers.
    const signature =
      envelope.batch === undefined
        ? `"sig":"${envelope.sig}"`
        : `"batch":{"index":${envelope.batch.index},"path":["${envelope.batch.path.join('","')}"],"sig":"${envelope.batch.sig}","size":${envelope.batch.size}}`
    this.json = `${canonical.slice(0, -1)},${signature}}`
    this.#input = input
    this.#digest = digestBytes?.toString('base64url')
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
