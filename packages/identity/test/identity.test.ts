import { generateKeyPairFromSeed, privateKeyFromProtobuf, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { nobleEd25519, nodeEd25519 } from '../src/ed25519.js'
import { InvalidSeedError } from '../src/errors.js'
import { generateIdentity, identityFromSeed, verifySignature } from '../src/identity.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const node = nodeEd25519()!

describe('libp2p interoperability', () => {
  it('produces a private key libp2p accepts as its node key, with the same peer ID', async () => {
    const identity = generateIdentity()
    const key = privateKeyFromProtobuf(identity.privateKeyProtobuf())
    expect(key.type).toBe('Ed25519')
    expect(key.publicKey.raw).toEqual(identity.publicKey)
    expect(peerIdFromPrivateKey(key).toString()).toBe(identity.peerId)
    // libp2p's own key derived from the same seed is byte-for-byte the same key.
    const fromSeed = await generateKeyPairFromSeed('Ed25519', identity.exportSeed())
    expect(fromSeed.raw).toEqual(key.raw)
  })

  it('verifies libp2p signatures, and libp2p verifies ours, with both providers', async () => {
    for (const crypto of [node, nobleEd25519]) {
      const identity = generateIdentity({ crypto })
      const libp2pKey = privateKeyFromProtobuf(identity.privateKeyProtobuf())
      const data = text(`signed by libp2p, checked by ${crypto.name}`)
      const theirs = await libp2pKey.sign(data)
      expect(identity.verify(data, theirs)).toBe(true)
      expect(verifySignature(identity.publicKey, data, theirs, { crypto })).toBe(true)

      const ours = identity.sign(data)
      expect(await libp2pKey.publicKey.verify(data, ours)).toBe(true)
      expect(await publicKeyFromRaw(identity.publicKey).verify(text('other data'), ours)).toBe(false)
    }
  })
})

describe('identities', () => {
  it('are deterministic in the seed, whichever provider derives them', () => {
    const seed = node.generateSeed()
    const a = identityFromSeed(seed)
    const b = identityFromSeed(seed, { crypto: nobleEd25519 })
    expect(b.peerId).toBe(a.peerId)
    expect(b.publicKey).toEqual(a.publicKey)
    expect(b.privateKeyProtobuf()).toEqual(a.privateKeyProtobuf())
    const data = text('same bytes')
    expect(b.sign(data)).toEqual(a.sign(data))
  })

  it('sign and verify, rejecting tampering and other identities', () => {
    for (const crypto of [node, nobleEd25519]) {
      const alice = generateIdentity({ crypto })
      const bob = generateIdentity({ crypto })
      const data = text('hello')
      const signature = alice.sign(data)
      expect(signature).toHaveLength(64)
      expect(alice.verify(data, signature)).toBe(true)
      expect(verifySignature(alice.publicKey, data, signature)).toBe(true)
      expect(bob.verify(data, signature)).toBe(false)
      expect(alice.verify(text('hellO'), signature)).toBe(false)
      expect(alice.verify(data, signature.subarray(0, 63))).toBe(false)
    }
  })

  it('copy the seed in and out, so outside changes cannot alter them', () => {
    const seed = node.generateSeed()
    const identity = identityFromSeed(seed)
    const peerId = identity.peerId
    seed.fill(0)
    expect(identityFromSeed(identity.exportSeed()).peerId).toBe(peerId)
    identity.exportSeed().fill(0)
    identity.publicKey.fill(0)
    const data = text('still me')
    expect(identity.verify(data, identity.sign(data))).toBe(true)
    expect(
      verifySignature(identityFromSeed(identity.exportSeed()).publicKey, data, identity.sign(data)),
    ).toBe(true)
    expect(identity.peerId).toBe(peerId)
  })

  it('never reveal the seed when printed or serialised', () => {
    const identity = generateIdentity()
    const seedB64 = Buffer.from(identity.exportSeed()).toString('base64')
    const seedHex = Buffer.from(identity.exportSeed()).toString('hex')
    expect(String(identity)).toBe(`Identity(${identity.peerId})`)
    expect(JSON.stringify(identity)).toBe(JSON.stringify({ peerId: identity.peerId }))
    for (const shown of [String(identity), JSON.stringify(identity)]) {
      expect(shown).not.toContain(seedB64)
      expect(shown).not.toContain(seedHex)
    }
  })

  it('refuse seeds that are not 32 bytes with ERR_INVALID_SEED', () => {
    for (const seed of [
      new Uint8Array(0),
      new Uint8Array(31),
      new Uint8Array(64),
      'x'.repeat(32),
      undefined,
    ]) {
      expect(() => identityFromSeed(seed as Uint8Array)).toThrow(InvalidSeedError)
      expect(() => identityFromSeed(seed as Uint8Array, { crypto: nobleEd25519 })).toThrow(InvalidSeedError)
    }
  })

  it('verifySignature answers false for any malformed argument', () => {
    const identity = generateIdentity()
    const data = text('x')
    const signature = identity.sign(data)
    expect(verifySignature(identity.publicKey, data, signature)).toBe(true)
    const bad: unknown[] = [null, undefined, 'string', 12, {}, [1, 2, 3], new Uint8Array(5)]
    for (const value of bad) {
      expect(verifySignature(value as Uint8Array, data, signature)).toBe(false)
      expect(verifySignature(identity.publicKey, value as Uint8Array, signature)).toBe(false)
      expect(verifySignature(identity.publicKey, data, value as Uint8Array)).toBe(false)
      expect(verifySignature(identity.publicKey, data, value as Uint8Array, { crypto: nobleEd25519 })).toBe(
        false,
      )
    }
  })
})
