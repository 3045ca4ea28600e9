// The content by CID test vector of docs/protocol.md §2.9, checked as another implementer would:
// the leaves with node:crypto, the root by decoding it, the signature with node:crypto; and
// against this package's importer, so the CIDs it makes are the ones the document promises.
import { createHash, createPrivateKey, sign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as dagPb from '@ipld/dag-pb'
import { CONTENT_CID_PATTERN, canonicalize, validatePayload } from '@p2p-ai/protocol'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as digestOf } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE } from '../src/constants.js'
import { importContent } from '../src/unixfs/import.js'

interface ContentVector {
  contentSize: number
  contentSha256: string
  links: Array<{ cid: string; tsize: number }>
  rootBlockHex: string
  cid: string
  request: Record<string, unknown> & { sig: string; payload: { inputRef: { cid: string; size: number } } }
  requestDigest: string
}

const PROTOCOL_MD = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')
const block = /^```json content-vector\n([\s\S]*?)^```$/m.exec(PROTOCOL_MD)?.[1]
const vector = JSON.parse(block ?? 'null') as ContentVector
/** The key of section 9 (RFC 8032's first test vector). */
const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'

const content = Buffer.from(canonicalize({ text: 'a'.repeat(2_500_000) }), 'utf8')
const rawCid = (bytes: Uint8Array) =>
  CID.createV1(raw.code, digestOf(sha256.code, createHash('sha256').update(bytes).digest())).toString()

describe('the docs/protocol.md content by CID vector (minor 5)', () => {
  it('describes the input it names: its size and SHA-256', () => {
    expect(vector).not.toBeNull()
    expect(content.byteLength).toBe(vector.contentSize)
    expect(createHash('sha256').update(content).digest('hex')).toBe(vector.contentSha256)
  })

  it('has leaves that are the 1 MiB chunks of the content as raw blocks', () => {
    const chunks = [0, 1, 2].map((i) => content.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE))
    expect(vector.links.map((l) => l.cid)).toEqual(chunks.map(rawCid))
    expect(vector.links.map((l) => l.tsize)).toEqual(chunks.map((c) => c.byteLength))
  })

  it('has a root that is a UnixFS file node linking the leaves, whose hash is the CID', () => {
    const root = Buffer.from(vector.rootBlockHex, 'hex')
    const node = dagPb.decode(root)
    expect(node.Links.map((l) => [l.Hash.toString(), l.Name, l.Tsize])).toEqual(
      vector.links.map((l) => [l.cid, '', l.tsize]),
    )
    const unixfs = UnixFS.unmarshal(node.Data as Uint8Array)
    expect(unixfs.type).toBe('file')
    expect(Number(unixfs.fileSize())).toBe(vector.contentSize)
    expect(unixfs.blockSizes.map(Number)).toEqual(vector.links.map((l) => l.tsize))
    const cid = CID.createV1(dagPb.code, digestOf(sha256.code, createHash('sha256').update(root).digest()))
    expect(cid.toString()).toBe(vector.cid)
    for (const c of [vector.cid, ...vector.links.map((l) => l.cid)]) expect(c).toMatch(CONTENT_CID_PATTERN)
  })

  it('is what this package makes of the same bytes', async () => {
    const stored = new Map<string, Uint8Array>()
    const sink = {
      put: async (cid: CID, bytes: Uint8Array) => {
        stored.set(cid.toString(), bytes)
        return cid
      },
    }
    const imported = await importContent(content, sink, () => {})
    expect(imported).toMatchObject({ size: vector.contentSize })
    expect(imported.cid.toString()).toBe(vector.cid)
    expect(Buffer.from(stored.get(vector.cid) as Uint8Array).toString('hex')).toBe(vector.rootBlockHex)
    // Content of one chunk or less is its raw leaf alone.
    const small = await importContent(Buffer.from('{"text":"hello"}'), sink, () => {})
    expect(small.cid.toString()).toBe(rawCid(Buffer.from('{"text":"hello"}')))
  })

  it('carries the CID and size in a request signed by the requester', () => {
    expect(vector.request.payload.inputRef).toEqual({ cid: vector.cid, size: vector.contentSize })
    expect(() => validatePayload('task.request', vector.request.payload)).not.toThrow()
    const { sig, ...unsigned } = vector.request
    const input = Buffer.from(`p2p-ai/envelope/v1\n${canonicalize(unsigned as never)}`, 'utf8')
    const key = createPrivateKey({
      key: Buffer.from(`302e020100300506032b657004220420${SEED_HEX}`, 'hex'),
      format: 'der',
      type: 'pkcs8',
    })
    expect(sign(null, input, key).toString('base64url')).toBe(sig)
    expect(createHash('sha256').update(input).digest('base64url')).toBe(vector.requestDigest)
  })
})
