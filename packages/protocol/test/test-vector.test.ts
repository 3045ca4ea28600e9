import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto'
import { identityFromSeed, peerIdFromPublicKey, publicKeyFromPeerId } from '@p2p-ai/identity'
import { describe, expect, it } from 'vitest'
import { canonicalize } from '../src/canonical-json.js'
import { openEnvelope, sealEnvelope, signingInput } from '../src/envelope.js'
import type { UnsignedEnvelope } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { varintLength, writeVarint } from '../src/varint.js'
import { jsonBlocks, PROTOCOL_MD } from './doc.js'
import { collect } from './helpers.js'

interface TestVector {
  seedHex: string
  publicKeyHex: string
  peerId: string
  unsignedEnvelope: UnsignedEnvelope<'task.request'>
  canonicalJson: string
  signingInputHex: string
  signatureHex: string
  sig: string
  digest: string
  wireJson: string
  framePrefixHex: string
}

// The vector is read from docs/protocol.md itself, so the document cannot drift from the code.
const blocks = jsonBlocks(PROTOCOL_MD)
const vector = blocks.find((block) => block.tag === 'test-vector')?.value as TestVector
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

// Independent of @p2p-ai/identity: node:crypto and a few lines of base58, as another
// implementer would do it from the document.
const PKCS8_ED25519_PREFIX = '302e020100300506032b657004220420'
const privateKey = createPrivateKey({
  key: Buffer.from(PKCS8_ED25519_PREFIX + vector.seedHex, 'hex'),
  format: 'der',
  type: 'pkcs8',
})

function base58btc(bytes: Uint8Array): string {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let value = BigInt(`0x${hex(bytes)}`)
  let out = ''
  while (value > 0n) {
    out = alphabet[Number(value % 58n)] + out
    value /= 58n
  }
  for (const byte of bytes) {
    if (byte !== 0) {
      break
    }
    out = `1${out}`
  }
  return out
}

describe('the docs/protocol.md test vector', () => {
  it('derives the public key and PeerId from the seed', () => {
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
    expect(hex(Buffer.from(jwk.x as string, 'base64url'))).toBe(vector.publicKeyHex)
    const multihash = Buffer.from(`002408011220${vector.publicKeyHex}`, 'hex')
    expect(base58btc(multihash)).toBe(vector.peerId)
    const publicKey = Buffer.from(vector.publicKeyHex, 'hex')
    expect(peerIdFromPublicKey(publicKey)).toBe(vector.peerId)
    expect(hex(publicKeyFromPeerId(vector.peerId))).toBe(vector.publicKeyHex)
    expect(identityFromSeed(Buffer.from(vector.seedHex, 'hex')).peerId).toBe(vector.peerId)
  })

  it('canonicalizes, prefixes, signs and digests to the documented bytes', () => {
    expect(canonicalize(vector.unsignedEnvelope)).toBe(vector.canonicalJson)
    const input = signingInput(vector.unsignedEnvelope)
    expect(hex(input)).toBe(vector.signingInputHex)
    expect(Buffer.from(input).toString('utf8')).toBe(`p2p-ai/envelope/v1\n${vector.canonicalJson}`)
    const signature = sign(null, input, privateKey)
    expect(signature.toString('hex')).toBe(vector.signatureHex)
    expect(signature.toString('base64url')).toBe(vector.sig)
    expect(createHash('sha256').update(input).digest('base64url')).toBe(vector.digest)
  })

  it('is what sealEnvelope produces for that seed, time and nonce', () => {
    const { payload, ts, nonce } = vector.unsignedEnvelope
    const sealed = sealEnvelope(
      identityFromSeed(Buffer.from(vector.seedHex, 'hex')),
      'task.request',
      payload,
      {
        now: ts,
        nonce: Buffer.from(nonce, 'base64url'),
      },
    )
    expect(sealed.envelope).toEqual({ ...vector.unsignedEnvelope, sig: vector.sig })
    expect(sealed.digest).toBe(vector.digest)
  })

  it('decodes and verifies the documented frame', async () => {
    const body = Buffer.from(vector.wireJson, 'utf8')
    const frame = Buffer.concat([Buffer.from(vector.framePrefixHex, 'hex'), body])
    const prefix = new Uint8Array(varintLength(body.length))
    writeVarint(body.length, prefix, 0)
    expect(hex(prefix)).toBe(vector.framePrefixHex)
    const [decoded] = await collect([frame])
    if (decoded?.ok !== true) {
      throw new Error('the documented frame did not decode')
    }
    expect(decoded.value).toEqual({ ...vector.unsignedEnvelope, sig: vector.sig })
    const opened = openEnvelope(decoded.value, {
      replayCache: replayCache(),
      now: vector.unsignedEnvelope.ts,
      expectedSender: vector.peerId,
    })
    expect(opened.digest).toBe(vector.digest)
  })

  it('also signs the envelope example of section 4', () => {
    const example = blocks.find((block) => block.tag === 'envelope')?.value as { ts: number; from: string }
    expect(example.from).toBe(vector.peerId)
    expect(() => openEnvelope(example, { replayCache: replayCache(), now: example.ts })).not.toThrow()
  })
})
