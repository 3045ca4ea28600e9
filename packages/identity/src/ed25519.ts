import type { KeyObject } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { builtin } from './builtins.js'
import { describe, equalBytes, isBytes, plainBytes } from './bytes.js'
import { PUBLIC_KEY_CACHE_SIZE, PUBLIC_KEY_LENGTH, SEED_LENGTH, SIGNATURE_LENGTH } from './constants.js'
import { InvalidDataError, InvalidSeedError } from './errors.js'
import { LruCache } from './lru.js'

/**
 * Pluggable Ed25519 implementation (RFC 8032, pure Ed25519): node:crypto (fast) or @noble/curves
 * (browsers). Keys are raw: a 32-byte seed and a 32-byte public key.
 */
export interface Ed25519Provider {
  readonly name: 'node' | 'noble'
  /** 32 bytes from a cryptographically secure random source. */
  generateSeed(): Uint8Array
  /** The 32-byte public key of `seed`. Throws `InvalidSeedError` unless `seed` is 32 bytes. */
  publicKeyFromSeed(seed: Uint8Array): Uint8Array
  /**
   * The 64-byte deterministic signature of `data`. Throws `InvalidSeedError` unless `seed` is 32
   * bytes, `InvalidDataError` unless `data` is a `Uint8Array`.
   */
  sign(seed: Uint8Array, data: Uint8Array): Uint8Array
  /** Whether `signature` is `publicKey`'s signature of `data`. Never throws: bad input is `false`. */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean
}

function checkSeed(seed: Uint8Array): void {
  if (!isBytes(seed, SEED_LENGTH)) {
    throw new InvalidSeedError(
      `an Ed25519 seed must be a ${SEED_LENGTH}-byte Uint8Array, got ${describe(seed)}`,
    )
  }
}

function checkData(data: Uint8Array): void {
  if (!isBytes(data)) throw new InvalidDataError(`data to sign must be a Uint8Array, got ${describe(data)}`)
}

function canVerify(publicKey: unknown, data: unknown, signature: unknown): boolean {
  return isBytes(publicKey, PUBLIC_KEY_LENGTH) && isBytes(data) && isBytes(signature, SIGNATURE_LENGTH)
}

/**
 * Ed25519 in pure JavaScript, for runtimes without node:crypto Ed25519. Verification is strict
 * RFC 8032 (`zip215: false`): non-canonical encodings are rejected, as node:crypto does.
 */
export const nobleEd25519: Ed25519Provider = Object.freeze({
  name: 'noble' as const,
  generateSeed: (): Uint8Array => ed25519.utils.randomSecretKey(),
  publicKeyFromSeed(seed: Uint8Array): Uint8Array {
    checkSeed(seed)
    return ed25519.getPublicKey(seed)
  },
  sign(seed: Uint8Array, data: Uint8Array): Uint8Array {
    checkSeed(seed)
    checkData(data)
    return ed25519.sign(data, seed)
  },
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    if (!canVerify(publicKey, data, signature)) return false
    try {
      return ed25519.verify(signature, data, publicKey, { zip215: false })
    } catch {
      return false
    }
  },
})

let nodeProvider: Ed25519Provider | null | undefined

/**
 * Ed25519 through node:crypto (OpenSSL), 16–19× faster than {@link nobleEd25519}; undefined
 * where node:crypto is missing or lacks Ed25519. The provider is created once and self-tested
 * against RFC 8032's first test vector; a runtime that fails the test gets undefined.
 */
export function nodeEd25519(): Ed25519Provider | undefined {
  if (nodeProvider === undefined) {
    const crypto = builtin('node:crypto')
    nodeProvider = null
    if (crypto !== undefined) {
      try {
        const candidate = createNodeProvider(crypto)
        if (selfTest(candidate)) nodeProvider = candidate
      } catch {
        // No Ed25519 in this node:crypto (e.g. an OpenSSL build without it): noble takes over.
      }
    }
  }
  return nodeProvider ?? undefined
}

/** {@link nodeEd25519} where available, else {@link nobleEd25519}. */
export function defaultEd25519(): Ed25519Provider {
  return nodeEd25519() ?? nobleEd25519
}

/** RFC 8032 section 7.1, TEST 1: the empty message. */
const RFC8032_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
}

function selfTest(p: Ed25519Provider): boolean {
  const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!, (b) => Number.parseInt(b, 16))
  const seed = hex(RFC8032_TEST1.seed)
  const data = new Uint8Array(0)
  const signature = p.sign(seed, data)
  return (
    equalBytes(p.publicKeyFromSeed(seed), hex(RFC8032_TEST1.publicKey)) &&
    equalBytes(signature, hex(RFC8032_TEST1.signature)) &&
    p.verify(hex(RFC8032_TEST1.publicKey), data, signature)
  )
}

interface PrivateEntry {
  /** Copy of the seed the key was made from, to notice a caller mutating their array. */
  seed: Uint8Array
  key: KeyObject
  publicKey: Uint8Array
}

function createNodeProvider(crypto: typeof import('node:crypto')): Ed25519Provider {
  const b64url = (bytes: Uint8Array): string =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')

  // Importing a key costs far more than using it (about 60 µs for a private key via JWK, 650 µs via
  // PKCS#8 DER; 14 µs for a public key), so KeyObjects are cached. Private keys are keyed by the
  // seed array itself, so an Identity (which keeps its seed array) imports once, and no
  // seed-derived string is ever created.
  const privateKeys = new WeakMap<Uint8Array, PrivateEntry>()
  const publicKeys = new LruCache<string, KeyObject>(PUBLIC_KEY_CACHE_SIZE)

  function privateEntry(seed: Uint8Array): PrivateEntry {
    const cached = privateKeys.get(seed)
    if (cached !== undefined && equalBytes(cached.seed, seed)) return cached
    // JWK needs `x`, the public key we are about to derive; OpenSSL ignores it and derives the
    // public key from `d` (the self-test proves that on this runtime), so any 32 bytes do.
    const d = b64url(seed)
    const key = crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: d }, format: 'jwk' })
    const x = crypto.createPublicKey(key).export({ format: 'jwk' }).x
    if (typeof x !== 'string') throw new InvalidSeedError('node:crypto did not derive an Ed25519 public key')
    const entry = { seed: seed.slice(), key, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) }
    privateKeys.set(seed, entry)
    return entry
  }

  function publicKeyObject(publicKey: Uint8Array): KeyObject {
    const x = b64url(publicKey)
    let key = publicKeys.get(x)
    if (key === undefined) {
      key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
      publicKeys.set(x, key)
    }
    return key
  }

  return Object.freeze({
    name: 'node' as const,
    generateSeed: (): Uint8Array => crypto.randomFillSync(new Uint8Array(SEED_LENGTH)),
    publicKeyFromSeed(seed: Uint8Array): Uint8Array {
      checkSeed(seed)
      return privateEntry(seed).publicKey.slice()
    },
    sign(seed: Uint8Array, data: Uint8Array): Uint8Array {
      checkSeed(seed)
      checkData(data)
      return plainBytes(crypto.sign(null, data, privateEntry(seed).key))
    },
    verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
      if (!canVerify(publicKey, data, signature)) return false
      try {
        return crypto.verify(null, data, publicKeyObject(publicKey), signature)
      } catch {
        return false
      }
    },
  })
}
