/**
 * @p2p-ai/identity: key generation, signing and verification with both Ed25519 providers side by
 * side (node:crypto and @noble/curves, interleaved round by round against raw node:crypto), peer ID
 * encoding, and loading a key file. Messages are 256 bytes, about the size of a signed task envelope.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Ed25519Provider,
  generateIdentity,
  type Identity,
  loadIdentity,
  nobleEd25519,
  nodeEd25519,
  peerIdFromPublicKey,
  publicKeyFromPeerId,
  saveIdentity,
  verifySignature,
} from '@p2p-ai/identity'
import { type BenchCase, compare, defineSuite, type SuiteEntry, throughput } from '../runner.js'

const MESSAGE_BYTES = 256
/** More distinct signers than the node provider caches public keys for, so every verify imports a key. */
const MANY_SIGNERS = 2048

interface State {
  dir: string
  keyFile: string
}

/** The three operations of one provider, each a case of the comparison of that operation. */
function providerCases(crypto: Ed25519Provider): { generate: BenchCase; sign: BenchCase; verify: BenchCase } {
  const identity = generateIdentity({ crypto })
  const message = globalThis.crypto.getRandomValues(new Uint8Array(MESSAGE_BYTES))
  const signature = identity.sign(message)
  const tag = `(${crypto.name})`
  // noble is ~20× slower; its rounds still get a few hundred calls each within the default budget.
  return {
    generate: throughput(`generate identity ${tag}`, () => generateIdentity({ crypto }), {
      description: 'random seed, public key, peer ID',
    }),
    sign: throughput(`sign 256 B ${tag}`, () => identity.sign(message), {
      description: 'Identity.sign, key already imported',
    }),
    verify: throughput(
      `verify 256 B ${tag}`,
      () => verifySignature(identity.publicKey, message, signature, { crypto }),
      {
        description: 'verifySignature with a recently seen public key',
      },
    ),
  }
}

function manySignersCase(crypto: Ed25519Provider): BenchCase {
  const message = globalThis.crypto.getRandomValues(new Uint8Array(MESSAGE_BYTES))
  const signed: Array<{ identity: Identity; signature: Uint8Array }> = []
  let i = 0
  return throughput(
    `verify 256 B, ${MANY_SIGNERS} signers (${crypto.name})`,
    () => {
      const s = signed[i++ % MANY_SIGNERS]!
      return verifySignature(s.identity.publicKey, message, s.signature, { crypto })
    },
    {
      description: 'each verify from a different signer than the last 1,024: no key cache hits',
      setup: () => {
        for (let n = 0; n < MANY_SIGNERS; n++) {
          const identity = generateIdentity({ crypto })
          signed.push({ identity, signature: identity.sign(message) })
        }
      },
    },
  )
}

function peerIdDecodeCase(): BenchCase {
  const peerIds: string[] = []
  let i = 0
  return throughput(
    `publicKeyFromPeerId, ${MANY_SIGNERS} peers`,
    () => publicKeyFromPeerId(peerIds[i++ % MANY_SIGNERS]!),
    {
      description: 'more distinct peers than the cache holds: base58 decode and checks every call',
      setup: () => {
        for (let n = 0; n < MANY_SIGNERS; n++) peerIds.push(generateIdentity().peerId)
      },
    },
  )
}

/**
 * node:crypto called directly with a ready KeyObject: the floor under the node provider, run in
 * the same conditions so the wrapper's overhead can be read off even on a busy machine.
 */
function rawNodeCases(): { sign: BenchCase; verify: BenchCase } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const message = globalThis.crypto.getRandomValues(new Uint8Array(MESSAGE_BYTES))
  const signature = sign(null, message, privateKey)
  return {
    sign: throughput('sign 256 B (raw node:crypto)', () => sign(null, message, privateKey), {
      description: 'reference: crypto.sign with a KeyObject, no wrapper',
    }),
    verify: throughput('verify 256 B (raw node:crypto)', () => verify(null, message, publicKey, signature), {
      description: 'reference: crypto.verify with a KeyObject, no wrapper',
    }),
  }
}

/**
 * Each operation of both providers as a comparison, interleaved round by round: node:crypto's
 * wrapper against raw node:crypto, and the @noble/curves fallback against both. Without
 * node:crypto Ed25519 only the fallback runs.
 */
function providerComparisons(): SuiteEntry[] {
  const noble = providerCases(nobleEd25519)
  const nodeProvider = nodeEd25519()
  if (nodeProvider === undefined) return [noble.generate, noble.sign, noble.verify]
  const node = providerCases(nodeProvider)
  const raw = rawNodeCases()
  return [
    compare('generate identity', [node.generate, noble.generate], { baseline: node.generate.name }),
    compare('sign 256 B', [raw.sign, node.sign, noble.sign], { baseline: raw.sign.name }),
    compare('verify 256 B', [raw.verify, node.verify, noble.verify], { baseline: raw.verify.name }),
    manySignersCase(nodeProvider),
  ]
}

export default defineSuite<State>({
  name: 'identity',
  description: 'Ed25519 identities: generate, sign, verify (node:crypto vs noble), peer IDs, key files',
  setup: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-identity-'))
    const keyFile = join(dir, 'identity.json')
    await saveIdentity(generateIdentity(), keyFile)
    return { dir, keyFile }
  },
  teardown: async ({ dir }) => {
    await rm(dir, { recursive: true, force: true })
  },
  cases: ({ keyFile }) => {
    const identity = generateIdentity()
    return [
      ...providerComparisons(),
      throughput('peerIdFromPublicKey', () => peerIdFromPublicKey(identity.publicKey), {
        description: 'base58btc of the identity multihash',
      }),
      throughput('publicKeyFromPeerId', () => publicKeyFromPeerId(identity.peerId), {
        description: 'a recently seen peer ID (cache hit)',
      }),
      peerIdDecodeCase(),
      throughput('loadIdentity', () => loadIdentity(keyFile), {
        description: 'open, check mode, read, parse and cross-check a key file',
      }),
    ]
  },
})
