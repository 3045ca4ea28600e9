import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { defaultEd25519, type Ed25519Provider, nobleEd25519, nodeEd25519 } from '../src/ed25519.js'
import { InvalidDataError, InvalidSeedError } from '../src/errors.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

// RFC 8032 section 7.1, TEST 1 to TEST 3.
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
]

const node = nodeEd25519()
if (node === undefined) throw new Error('these tests run on Node >= 20.19, whose node:crypto has Ed25519')
const providers: Array<[string, Ed25519Provider]> = [
  ['node', node],
  ['noble', nobleEd25519],
]

describe('provider selection', () => {
  it('uses node:crypto on Node, the same instance every time', () => {
    expect(node.name).toBe('node')
    expect(nodeEd25519()).toBe(node)
    expect(defaultEd25519()).toBe(node)
    expect(nobleEd25519.name).toBe('noble')
  })
})

describe.each(providers)('%s provider', (_name, p) => {
  it.each(RFC8032.map((v, i) => [i + 1, v] as const))('reproduces RFC 8032 TEST %i', (_n, v) => {
    expect(p.publicKeyFromSeed(hex(v.seed))).toEqual(hex(v.publicKey))
    const signature = p.sign(hex(v.seed), hex(v.message))
    expect(signature).toEqual(hex(v.signature))
    expect(p.verify(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(true)
  })

  it('returns plain Uint8Arrays of the right lengths', () => {
    const seed = p.generateSeed()
    expect(seed.constructor).toBe(Uint8Array)
    expect(seed).toHaveLength(32)
    expect(p.publicKeyFromSeed(seed).constructor).toBe(Uint8Array)
    const signature = p.sign(seed, text('x'))
    expect(signature.constructor).toBe(Uint8Array)
    expect(signature).toHaveLength(64)
  })

  it('generates distinct random seeds', () => {
    const seeds = new Set(Array.from({ length: 50 }, () => Buffer.from(p.generateSeed()).toString('hex')))
    expect(seeds.size).toBe(50)
  })

  it('rejects tampered data, a tampered signature and the wrong key', () => {
    const seed = p.generateSeed()
    const publicKey = p.publicKeyFromSeed(seed)
    const data = text('task result: 42')
    const signature = p.sign(seed, data)
    expect(p.verify(publicKey, data, signature)).toBe(true)

    expect(p.verify(publicKey, text('task result: 43'), signature)).toBe(false)
    expect(p.verify(publicKey, data.subarray(1), signature)).toBe(false)
    for (const index of [0, 31, 32, 63]) {
      const bad = signature.slice()
      bad[index]! ^= 0x01
      expect(p.verify(publicKey, data, bad)).toBe(false)
    }
    const other = p.publicKeyFromSeed(p.generateSeed())
    expect(p.verify(other, data, signature)).toBe(false)
  })

  it('answers false, never throws, for malformed verification input', () => {
    const seed = p.generateSeed()
    const publicKey = p.publicKeyFromSeed(seed)
    const data = text('hello')
    const signature = p.sign(seed, data)
    const cases: Array<[unknown, unknown, unknown]> = [
      [publicKey.subarray(0, 31), data, signature],
      [new Uint8Array(33), data, signature],
      [publicKey, data, signature.subarray(0, 63)],
      [publicKey, data, new Uint8Array(65)],
      [publicKey, data, new Uint8Array(0)],
      [new Uint8Array(32), data, signature],
      [new Uint8Array(32).fill(0xff), data, signature],
      [publicKey, data, new Uint8Array(64).fill(0xff)],
      [publicKey, 'hello', signature],
      [Array.from(publicKey), data, signature],
      [null, data, signature],
      [publicKey, undefined, signature],
      [publicKey, data, {}],
    ]
    for (const [k, d, s] of cases) {
      expect(p.verify(k as Uint8Array, d as Uint8Array, s as Uint8Array)).toBe(false)
    }
  })

  it('refuses to sign with a seed that is not 32 bytes, or data that is not bytes', () => {
    for (const seed of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(64), 'seed', null]) {
      expect(() => p.sign(seed as Uint8Array, text('x'))).toThrow(InvalidSeedError)
      expect(() => p.publicKeyFromSeed(seed as Uint8Array)).toThrow(InvalidSeedError)
    }
    expect(() => p.sign(p.generateSeed(), 'text' as unknown as Uint8Array)).toThrow(InvalidDataError)
    try {
      p.sign(new Uint8Array(31), text('x'))
    } catch (err) {
      expect((err as InvalidSeedError).code).toBe('ERR_INVALID_SEED')
      expect((err as Error).message).toMatch(/32-byte Uint8Array, got Uint8Array\(31\)/)
    }
  })

  it('signs any view of the bytes, not the whole underlying buffer', () => {
    const seed = p.generateSeed()
    const backing = new Uint8Array(100).fill(7)
    const view = backing.subarray(10, 20)
    expect(p.sign(seed, view)).toEqual(p.sign(seed, view.slice()))
    expect(p.verify(p.publicKeyFromSeed(seed), view, p.sign(seed, view.slice()))).toBe(true)
  })
})

describe('node and noble agree', () => {
  it('on public keys and signatures for random seeds and messages, and verify each other', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 512 }),
        (seed, data) => {
          const publicKey = node.publicKeyFromSeed(seed)
          expect(nobleEd25519.publicKeyFromSeed(seed)).toEqual(publicKey)
          const byNode = node.sign(seed, data)
          const byNoble = nobleEd25519.sign(seed, data)
          // Ed25519 signatures are deterministic, so both must produce the same bytes.
          expect(byNoble).toEqual(byNode)
          expect(nobleEd25519.verify(publicKey, data, byNode)).toBe(true)
          expect(node.verify(publicKey, data, byNoble)).toBe(true)
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe('node provider key caches', () => {
  it('notices a seed array changed in place after it was used', () => {
    const seed = node.generateSeed()
    const before = node.publicKeyFromSeed(seed)
    node.sign(seed, text('x'))
    seed[0]! ^= 0xff
    const after = node.publicKeyFromSeed(seed)
    expect(after).not.toEqual(before)
    expect(after).toEqual(nobleEd25519.publicKeyFromSeed(seed))
    expect(node.verify(after, text('x'), node.sign(seed, text('x')))).toBe(true)
  })

  it('keeps verifying correctly after more public keys than it caches', () => {
    const data = text('many peers')
    const keys = Array.from({ length: 1100 }, () => {
      const seed = node.generateSeed()
      return { publicKey: node.publicKeyFromSeed(seed), signature: node.sign(seed, data) }
    })
    for (const k of keys) expect(node.verify(k.publicKey, data, k.signature)).toBe(true)
    // The first keys were evicted; they must be re-imported, not confused with others.
    expect(node.verify(keys[0]!.publicKey, data, keys[0]!.signature)).toBe(true)
    expect(node.verify(keys[0]!.publicKey, data, keys[1]!.signature)).toBe(false)
  })
})
