import { concatBytes, describe, isBytes } from './bytes.js'
import { PRIVATE_KEY_PROTOBUF_PREFIX, SEED_LENGTH } from './constants.js'
import { defaultEd25519, type Ed25519Provider } from './ed25519.js'
import { InvalidSeedError } from './errors.js'
import { peerIdFromPublicKey } from './peer-id.js'

/** Options for creating or loading an identity. */
export interface IdentityInit {
  /** Ed25519 implementation to sign and verify with. @default defaultEd25519() */
  crypto?: Ed25519Provider
}

/** An Ed25519 key pair and the libp2p peer ID it proves. */
export interface Identity {
  /** libp2p PeerId string '12D3KooW…' (base58btc of identity multihash of the protobuf public key) */
  readonly peerId: string
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** 64-byte Ed25519 signature of `data`; synchronous. Throws `InvalidDataError` unless `data` is a Uint8Array. */
  sign(data: Uint8Array): Uint8Array
  /** Whether `signature` is this identity's signature of `data`; never throws. */
  verify(data: Uint8Array, signature: Uint8Array): boolean
  /** libp2p protobuf encoding of the private key; `privateKeyFromProtobuf()` from `@libp2p/crypto/keys` turns it into the libp2p node key. */
  privateKeyProtobuf(): Uint8Array
  /** The 32-byte seed; handle with care */
  exportSeed(): Uint8Array
}

class Ed25519Identity implements Identity {
  readonly peerId: string
  readonly publicKey: Uint8Array
  // Private copies: what callers do to `publicKey` or the seed they passed in cannot change
  // what this identity signs with or claims. Keeping the same seed array also lets the node
  // provider reuse its imported key.
  readonly #seed: Uint8Array
  readonly #publicKey: Uint8Array
  readonly #crypto: Ed25519Provider

  constructor(seed: Uint8Array, crypto: Ed25519Provider) {
    if (!isBytes(seed, SEED_LENGTH)) {
      throw new InvalidSeedError(
        `an Ed25519 seed must be a ${SEED_LENGTH}-byte Uint8Array, got ${describe(seed)}`,
      )
    }
    this.#crypto = crypto
    this.#seed = seed.slice()
    this.#publicKey = crypto.publicKeyFromSeed(this.#seed)
    this.publicKey = this.#publicKey.slice()
    this.peerId = peerIdFromPublicKey(this.#publicKey)
  }

  sign(data: Uint8Array): Uint8Array {
    return this.#crypto.sign(this.#seed, data)
  }

  verify(data: Uint8Array, signature: Uint8Array): boolean {
    return this.#crypto.verify(this.#publicKey, data, signature)
  }

  privateKeyProtobuf(): Uint8Array {
    // libp2p stores Ed25519 private keys as seed ‖ public key (64 bytes), for historical reasons.
    return concatBytes(PRIVATE_KEY_PROTOBUF_PREFIX, this.#seed, this.#publicKey)
  }

  exportSeed(): Uint8Array {
    return this.#seed.slice()
  }

  /** Never the seed: identities end up in logs. */
  toString(): string {
    return `Identity(${this.peerId})`
  }

  toJSON(): { peerId: string } {
    return { peerId: this.peerId }
  }
}

/** A new identity from a fresh random seed (about 0.1 ms with node:crypto). */
export function generateIdentity(init: IdentityInit = {}): Identity {
  const crypto = init.crypto ?? defaultEd25519()
  return new Ed25519Identity(crypto.generateSeed(), crypto)
}

/**
 * The identity of a 32-byte Ed25519 seed (RFC 8032's private key). The seed is copied. Throws
 * `InvalidSeedError` unless `seed` is a 32-byte Uint8Array.
 */
export function identityFromSeed(seed: Uint8Array, init: IdentityInit = {}): Identity {
  return new Ed25519Identity(seed, init.crypto ?? defaultEd25519())
}

/**
 * Whether `signature` is `publicKey`'s Ed25519 signature of `data`. Never throws: wrong lengths,
 * non-byte arguments and invalid keys give `false`.
 */
export function verifySignature(
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
  init: IdentityInit = {},
): boolean {
  if (!isBytes(publicKey) || !isBytes(data) || !isBytes(signature)) return false
  return (init.crypto ?? defaultEd25519()).verify(publicKey, data, signature)
}
