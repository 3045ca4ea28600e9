import { generateKeyPair, privateKeyFromProtobuf, publicKeyFromRaw } from '@libp2p/crypto/keys'
import {
  peerIdFromPublicKey as libp2pPeerIdFromPublicKey,
  peerIdFromPrivateKey,
  peerIdFromString,
} from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { nobleEd25519 } from '../src/ed25519.js'
import { InvalidPeerIdError, InvalidPublicKeyError } from '../src/errors.js'
import { generateIdentity } from '../src/identity.js'
import { isPeerId, peerIdFromPublicKey, publicKeyFromPeerId } from '../src/peer-id.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('peerIdFromPublicKey', () => {
  it('gives the 12D3KooW peer ID js-libp2p derives from the same key', () => {
    for (let i = 0; i < 20; i++) {
      const identity = generateIdentity()
      const expected = peerIdFromPrivateKey(privateKeyFromProtobuf(identity.privateKeyProtobuf())).toString()
      expect(peerIdFromPublicKey(identity.publicKey)).toBe(expected)
      expect(identity.peerId).toBe(expected)
      expect(expected).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
      expect(libp2pPeerIdFromPublicKey(publicKeyFromRaw(identity.publicKey)).toString()).toBe(expected)
    }
  })

  it('refuses a public key that is not 32 bytes', () => {
    for (const key of [new Uint8Array(31), new Uint8Array(33), 'key', null]) {
      expect(() => peerIdFromPublicKey(key as Uint8Array)).toThrow(InvalidPublicKeyError)
      expect(codeOf(() => peerIdFromPublicKey(key as Uint8Array))).toBe('ERR_INVALID_PUBLIC_KEY')
    }
  })
})

describe('publicKeyFromPeerId', () => {
  it('recovers the raw public key, as libp2p does', () => {
    const identity = generateIdentity({ crypto: nobleEd25519 })
    const publicKey = publicKeyFromPeerId(identity.peerId)
    expect(publicKey).toEqual(identity.publicKey)
    expect(publicKey).toEqual(peerIdFromString(identity.peerId).publicKey?.raw)
    expect(isPeerId(identity.peerId)).toBe(true)
  })

  it.each([
    ['an empty string', '', /length 0/],
    ['a string with non-base58 characters', '12D3KooW0OIl', /not base58btc/],
    ['a truncated peer ID', '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBD', /identity multihash/],
    ['an over-long string', `12D3KooW${'1'.repeat(200)}`, /length 208/],
    ['an RSA (SHA-256) peer ID', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', /SHA-256 peer ID/],
    ['a CIDv1 string', 'bafzbeigai3eoy2ccc7ybwjfz5r3rdxqrinwi4rwytly24tdbh6yk7zslrm', /not base58btc/],
  ])('refuses %s with ERR_INVALID_PEER_ID', (_what, input, message) => {
    expect(() => publicKeyFromPeerId(input)).toThrow(InvalidPeerIdError)
    expect(() => publicKeyFromPeerId(input)).toThrow(message)
    expect(codeOf(() => publicKeyFromPeerId(input))).toBe('ERR_INVALID_PEER_ID')
    expect(isPeerId(input)).toBe(false)
  })

  it('refuses the peer ID of a secp256k1 key, naming the key type', async () => {
    const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
    expect(() => publicKeyFromPeerId(secp)).toThrow(/secp256k1 key; only Ed25519/)
    expect(codeOf(() => publicKeyFromPeerId(secp))).toBe('ERR_INVALID_PEER_ID')
  })

  it('refuses non-strings', () => {
    for (const value of [undefined, null, 42, new Uint8Array(38)] as unknown[]) {
      expect(codeOf(() => publicKeyFromPeerId(value as string))).toBe('ERR_INVALID_PEER_ID')
      expect(isPeerId(value)).toBe(false)
    }
  })

  it('hands out copies, so writing to a result cannot corrupt later ones', () => {
    const identity = generateIdentity()
    publicKeyFromPeerId(identity.peerId).fill(0)
    expect(publicKeyFromPeerId(identity.peerId)).toEqual(identity.publicKey)
  })

  it('keeps answering correctly for more peers than it caches', () => {
    const keys = Array.from({ length: 1500 }, () => globalThis.crypto.getRandomValues(new Uint8Array(32)))
    const ids = keys.map((k) => peerIdFromPublicKey(k))
    for (let round = 0; round < 2; round++) {
      ids.forEach((id, i) => {
        expect(publicKeyFromPeerId(id)).toEqual(keys[i])
      })
    }
  })

  it('round-trips every Ed25519 public key (property)', () => {
    for (let i = 0; i < 200; i++) {
      const key = globalThis.crypto.getRandomValues(new Uint8Array(32))
      expect(publicKeyFromPeerId(peerIdFromPublicKey(key))).toEqual(key)
    }
  })
})
