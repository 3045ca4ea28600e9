import { base58btc } from 'multiformats/bases/base58'
import { concatBytes, describe, isBytes, startsWith } from './bytes.js'
import {
  IDENTITY_MULTIHASH_PREFIX,
  MAX_PEER_ID_LENGTH,
  PEER_ID_BYTES,
  PEER_ID_CACHE_SIZE,
  PUBLIC_KEY_LENGTH,
  PUBLIC_KEY_PROTOBUF_PREFIX,
} from './constants.js'
import { InvalidPeerIdError, InvalidPublicKeyError } from './errors.js'
import { LruCache } from './lru.js'

const PEER_ID_PREFIX = [...IDENTITY_MULTIHASH_PREFIX, ...PUBLIC_KEY_PROTOBUF_PREFIX]
const KEY_TYPES = ['RSA', 'Ed25519', 'secp256k1', 'ECDSA']

// Receivers resolve the sender's peer ID on every message, mostly from a few peers; base58
// decoding costs as much as a tenth of a signature check, a cache hit almost nothing.
const decoded = new LruCache<string, Uint8Array>(PEER_ID_CACHE_SIZE)

/**
 * The libp2p peer ID of an Ed25519 public key: base58btc of the identity multihash of the key's
 * protobuf encoding, the `12D3KooW…` form js-libp2p prints. Throws `InvalidPublicKeyError` unless
 * `publicKey` is 32 bytes.
 */
export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  if (!isBytes(publicKey, PUBLIC_KEY_LENGTH)) {
    throw new InvalidPublicKeyError(
      `an Ed25519 public key must be a ${PUBLIC_KEY_LENGTH}-byte Uint8Array, got ${describe(publicKey)}`,
    )
  }
  return base58btc.baseEncode(concatBytes(PEER_ID_PREFIX, publicKey))
}

/**
 * The raw 32-byte Ed25519 public key inside a peer ID. Throws `InvalidPeerIdError` when the string
 * is not base58btc, not a peer ID, or the peer ID of another key type (RSA and secp256k1 peer IDs
 * such as `Qm…` and `16Uiu2…` are refused).
 */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  if (typeof peerId !== 'string')
    throw new InvalidPeerIdError(`a peer ID must be a string, got ${describe(peerId)}`)
  // base58 decoding is quadratic; real Ed25519 peer IDs are 52 characters.
  if (peerId.length === 0 || peerId.length > MAX_PEER_ID_LENGTH) {
    throw new InvalidPeerIdError(
      `invalid peer ID: length ${peerId.length}; an Ed25519 peer ID has 52 characters`,
    )
  }
  let publicKey = decoded.get(peerId)
  if (publicKey === undefined) {
    let bytes: Uint8Array
    try {
      bytes = base58btc.baseDecode(peerId)
    } catch {
      throw new InvalidPeerIdError(`invalid peer ID ${quote(peerId)}: not base58btc`)
    }
    if (bytes.length !== PEER_ID_BYTES || !startsWith(bytes, PEER_ID_PREFIX)) {
      throw new InvalidPeerIdError(`invalid peer ID ${quote(peerId)}: ${diagnose(bytes)}`)
    }
    publicKey = bytes.slice(PEER_ID_PREFIX.length)
    decoded.set(peerId, publicKey)
  }
  // A copy: the cached key must not change if the caller writes to what it got.
  return publicKey.slice()
}

/** True when `value` is the peer ID of an Ed25519 key (as {@link publicKeyFromPeerId} accepts). */
export function isPeerId(value: unknown): value is string {
  try {
    publicKeyFromPeerId(value as string)
    return true
  } catch {
    return false
  }
}

function diagnose(bytes: Uint8Array): string {
  if (bytes[0] === 0x12 && bytes[1] === 0x20) {
    return 'a SHA-256 peer ID (an RSA key, or another key too large to inline); only Ed25519 peer IDs are supported'
  }
  if (bytes[0] === 0x00 && bytes[2] === 0x08 && bytes[3] !== undefined) {
    const type = KEY_TYPES[bytes[3]]
    if (type !== undefined && type !== 'Ed25519') {
      return `the peer ID of a ${type} key; only Ed25519 peer IDs are supported`
    }
  }
  return `not the ${PEER_ID_BYTES}-byte identity multihash of an Ed25519 public key`
}

function quote(peerId: string): string {
  return JSON.stringify(peerId.length > 60 ? `${peerId.slice(0, 57)}...` : peerId)
}
