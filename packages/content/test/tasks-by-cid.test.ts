// Large task inputs and outputs by CID (docs/protocol.md §2.9) between two real nodes on
// 127.0.0.1: Helia's Bitswap on each node's own libp2p moves the blocks, the signed request and
// result carry only `{ cid, size }`.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { canonicalize, type JsonValue } from '@p2p-ai/protocol'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { HeliaContent } from '../src/index.js'
import { contentNodeInit, until } from './fixtures/nodes.js'

let dir: string
let requester: P2PNode
let provider: P2PNode
/** Inputs the provider's task saw, by the requester's text length. */
const seen: number[] = []

const MiB = 1024 * 1024

const init = (name: string) => contentNodeInit(dir, name)

/** The CID the same JSON value gets on any node (canonical JSON, the fixed UnixFS profile). */
async function cidOf(node: P2PNode, value: unknown): Promise<{ cid: string; size: number }> {
  return node.content!.put(Buffer.from(canonicalize(value as JsonValue), 'utf8'))
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-content-'))
  ;[requester, provider] = await Promise.all([createNode(init('requester')), createNode(init('provider'))])
  await Promise.all([requester.start(), provider.start()])
  provider.registerTask({
    name: 'text.repeat',
    input: z.object({ text: z.string(), times: z.number().int().min(1).max(8) }),
    run: ({ text, times }) => {
      seen.push(text.length)
      return { text: text.repeat(times), length: text.length * times }
    },
  })
  await requester.connect(provider.getMultiaddrs()[0] as string)
  // The requester routes by CID only to a peer that announced it takes content (minor 5).
  await until(
    () =>
      requester.directory.record(provider.peerId.toString())?.capabilities?.content !== undefined &&
      requester.directory
        .record(provider.peerId.toString())
        ?.capabilities?.taskTypes.includes('text.repeat') === true &&
      provider.directory.record(requester.peerId.toString())?.capabilities?.content !== undefined,
    'the two nodes announced content to each other',
  )
}, 30_000)

afterAll(async () => {
  await Promise.all([requester?.stop(), provider?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('a task input above content.inlineMaxBytes', () => {
  it('travels as a CID the provider fetches over Bitswap, and a large output comes back the same way', async () => {
    const text = 'abcdefgh'.repeat((3 * MiB) / 8) // 3 MiB: over the 1 MiB threshold, under a frame
    const input = { text, times: 2 }
    const handle = requester.submit<{ text: string; length: number }>({ type: 'text.repeat', input })
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).toBe(provider.peerId.toString())
    expect(record.output?.length).toBe(6 * MiB)
    expect(record.output?.text).toBe(text.repeat(2))
    expect(seen).toContain(text.length)

    // The provider holds the input's blocks (it fetched them by the CID the requester signed).
    // The requester fetched the output's by the CID the provider signed, then let them go: the
    // output is in the task's record, and a second copy on disk would serve nobody.
    const inputRef = await cidOf(requester, input)
    expect(await provider.content!.has(inputRef)).toBe(true)
    const outputRef = await cidOf(provider, record.output)
    await expect.poll(() => requester.content!.has(outputRef)).toBe(false)
    expect((requester.content as HeliaContent).usage().dataBytes).toBe(inputRef.size)
  })

  it('an input over the frame size, which no peer could take inline, still runs on the provider', async () => {
    const text = 'x'.repeat(5 * MiB) // more than a 4 MiB frame
    const record = await requester
      .submit<{ length: number }>({ type: 'text.repeat', input: { text, times: 1 } })
      .result()
    expect(record.error).toBeUndefined()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).toBe(provider.peerId.toString())
    expect(record.output?.length).toBe(5 * MiB)
  })

  it('a small input and output go inline: nothing is stored', async () => {
    const input = { text: 'hello', times: 3 }
    const record = await requester.submit<{ text: string }>({ type: 'text.repeat', input }).result()
    expect(record.output?.text).toBe('hellohellohello')
    const ref = { cid: (await cidOf(requester, input)).cid, size: Buffer.byteLength(canonicalize(input)) }
    expect(await provider.content!.has(ref)).toBe(false)
  })
})

describe('content put and get between nodes', () => {
  it('streams what one node put to another, every block checked against the CID', async () => {
    const bytes = new Uint8Array(2.5 * MiB).map((_, i) => (i * 31) % 251)
    const ref = await provider.content!.put(bytes)
    const chunks: Uint8Array[] = []
    let last = 0
    for await (const chunk of requester.content!.get(ref, { onProgress: (n) => (last = n) }))
      chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(Buffer.from(bytes))).toBe(true)
    expect(last).toBe(bytes.byteLength)
    // 1 MiB leaves: at most one block per chunk handed out.
    expect(Math.max(...chunks.map((c) => c.byteLength))).toBeLessThanOrEqual(MiB)
  })

  it('a reference whose size disagrees with its DAG fails with ERR_CONTENT_UNAVAILABLE', async () => {
    const ref = await provider.content!.put(Buffer.from('twelve bytes'))
    const read = async () => {
      for await (const _ of requester.content!.get({ cid: ref.cid, size: 13 })) void _
    }
    await expect(read()).rejects.toMatchObject({ code: 'ERR_CONTENT_UNAVAILABLE' })
  })

  it('content no connected peer has fails with ERR_CONTENT_UNAVAILABLE after the stall timeout', async () => {
    // A raw leaf of bytes nobody stored.
    const bytes = Buffer.from('nobody has this')
    const ghost = {
      cid: CID.createV1(raw.code, await sha256.digest(bytes)).toString(),
      size: bytes.byteLength,
    }
    const read = async () => {
      for await (const _ of requester.content!.get(ghost, { signal: AbortSignal.timeout(10_000) })) void _
    }
    await expect(read()).rejects.toMatchObject({ code: 'ERR_CONTENT_UNAVAILABLE' })
  }, 15_000)

  it('a request over content.maxBytes is refused before a byte is fetched', async () => {
    const read = async () => {
      for await (const _ of requester.content!.get({ cid: (await cidOf(provider, 'x')).cid, size: 2 ** 40 }))
        void _
    }
    await expect(read()).rejects.toMatchObject({ code: 'ERR_CONTENT_TOO_LARGE' })
  })
})

describe('the access policy', () => {
  it('with an allowlist, a connected stranger gets no block; an allowed peer still does', async () => {
    const stranger = await createNode(init('stranger'))
    try {
      await stranger.start()
      await stranger.connect(provider.getMultiaddrs()[0] as string)
      provider.exchange.setAccessPolicy({ mode: 'allowlist', allowlist: [requester.peerId.toString()] })
      const ref = await provider.content!.put(Buffer.from('for allowed peers only'))
      const read = async (node: P2PNode) => {
        const chunks: Uint8Array[] = []
        for await (const chunk of node.content!.get(ref)) chunks.push(chunk)
        return Buffer.concat(chunks).toString()
      }
      await expect(read(stranger)).rejects.toMatchObject({ code: 'ERR_CONTENT_UNAVAILABLE' })
      await expect(read(requester)).resolves.toBe('for allowed peers only')
    } finally {
      provider.exchange.setAccessPolicy({ mode: 'open' })
      await stranger.stop()
    }
  })
})

describe('expiry', () => {
  it('content past its time is deleted by the sweep; content still kept is not', async () => {
    const kept = await provider.content!.put(Buffer.from('kept for a day'))
    const brief = await provider.content!.put(Buffer.from('kept for a minute'), { ttlMs: 60_000 })
    // Past the short one's time and the sweep's grace for blocks being written.
    const { expired } = await (provider.content as HeliaContent).sweep(Date.now() + 2 * 3600_000)
    expect(expired).toBeGreaterThanOrEqual(1)
    expect(await provider.content!.has(brief)).toBe(false)
    expect(await provider.content!.has(kept)).toBe(true)
  })

  it('held content goes when its last holder releases it, unless a kept time or a shared block still needs it', async () => {
    const c = provider.content as HeliaContent
    const twice = Buffer.from('held twice '.repeat(100))
    const a = await c.put(twice, { hold: true })
    await c.put(twice, { hold: true })
    expect(await c.release(a)).toBe(false) // one holder left
    expect(await c.has(a)).toBe(true)
    expect(await c.release(a)).toBe(true)
    expect(await c.has(a)).toBe(false)

    const kept = await c.put(Buffer.from('kept for a day, and held once'))
    await c.put(Buffer.from('kept for a day, and held once'), { hold: true })
    expect(await c.release(kept)).toBe(false)
    expect(await c.has(kept)).toBe(true)

    // Two contents whose first 1 MiB leaf is the same block: releasing one leaves the other whole.
    const same = 'x'.repeat(MiB)
    const one = await c.put(Buffer.from(`${same}one`), { hold: true })
    const other = await c.put(Buffer.from(`${same}other`), { hold: true })
    expect(await c.release(one)).toBe(true)
    expect(await c.has(one)).toBe(false)
    expect(await c.has(other)).toBe(true)
    expect(await c.release(other)).toBe(true)
  })
})
