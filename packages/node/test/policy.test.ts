import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mockOutput } from '@p2p-ai/engine'
import { generatePsk } from '@p2p-ai/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import { AccessPolicy } from '../src/exchange/index.js'
import { type ExchangeNode, mesh, mock } from './fixtures/exchange-harness.js'
import { link, nodeSet, provideWhoami, reaches } from './fixtures/forwarding-harness.js'
import { localInit, tempDir, waitUntil } from './helpers.js'

const nodes = nodeSet()
afterEach(() => nodes.stopAll())

describe('access policy: allowlist', () => {
  it('rejects requests from peers not on the allowlist with ERR_ACCESS_DENIED', async () => {
    const [friend, stranger] = await nodes.spawn({}, {})
    const [provider] = await nodes.spawn({
      backends: [mock()],
      exchange: { access: { mode: 'allowlist', allowlist: [friend!.peerId] } },
    })
    await mesh([friend, stranger, provider] as ExchangeNode[])
    const ok = await friend!.exchange.submit({ type: 'mock', input: { text: 'hi' } }).result()
    expect(ok).toMatchObject({ status: 'COMPLETED', output: mockOutput('hi') })

    const denied = await stranger!.exchange
      .submit({ type: 'mock', input: { text: 'hi' } }, { target: provider!.peerId })
      .result()
    expect(denied).toMatchObject({ status: 'FAILED', error: { code: 'ERR_ACCESS_DENIED' } })
    // Refused, not held against the provider (it only said no).
    expect(stranger!.reputation(provider!.peerId).failures).toBe(0)
    // With target 'auto' the stranger looks elsewhere; there is nowhere else.
    const auto = await stranger!.exchange
      .submit({ type: 'mock', input: { text: 'hi' } }, { maxAttempts: 2, waitForPeerMs: 200 })
      .result()
    expect(auto.attempts.map((a) => a.error?.code)).toContain('ERR_ACCESS_DENIED')
    expect(provider!.engine.list({ limit: 100 }).map((t) => t.meta?.requester)).not.toContain(
      stranger!.peerId,
    )
  })

  it('sends tasks only to peers on its own allowlist, and refuses a target that is not', async () => {
    const [trusted, other] = await nodes.spawn({ backends: [mock()] }, { backends: [mock()] })
    const [requester] = await nodes.spawn({
      exchange: { access: { mode: 'allowlist', allowlist: [trusted!.peerId] } },
    })
    await mesh([trusted, other, requester] as ExchangeNode[])
    for (let i = 0; i < 6; i++) {
      const record = await requester!.exchange.submit({ type: 'mock', input: { text: `t${i}` } }).result()
      expect(record).toMatchObject({ status: 'COMPLETED', peer: trusted!.peerId })
    }
    expect(() => requester!.exchange.submit({ type: 'mock', input: {} }, { target: other!.peerId })).toThrow(
      expect.objectContaining({ code: 'ERR_ACCESS_DENIED' }),
    )
  })

  it('applies to forwarded tasks: the requester and the sending hop must be on the list', async () => {
    // A – B – C, C runs whoami and admits only B.
    const [a, b] = await nodes.spawn({}, {})
    const [c] = await nodes.spawn({ exchange: { access: { mode: 'allowlist', allowlist: [b!.peerId] } } })
    provideWhoami(c as ExchangeNode)
    await link(b as ExchangeNode, c as ExchangeNode)
    await link(a as ExchangeNode, b as ExchangeNode)
    await reaches(a as ExchangeNode, b as ExchangeNode, 'whoami', 1)
    const denied = await a!.exchange.submit({ type: 'whoami', input: {} }, { maxAttempts: 1 }).result()
    expect(denied.attempts[0]).toMatchObject({ peer: b!.peerId, error: { code: 'ERR_ACCESS_DENIED' } })
    expect(denied.attempts[0]?.error?.message).toContain(a!.peerId)

    // Admitting A as well (at run time) lets the same task through.
    c!.exchange.setAccessPolicy({ mode: 'allowlist', allowlist: [b!.peerId, a!.peerId] })
    expect(c!.exchange.access).toEqual({ mode: 'allowlist', allowlist: [b!.peerId, a!.peerId] })
    const ok = await a!.exchange.submit({ type: 'whoami', input: {} }, { waitForPeerMs: 10_000 }).result()
    expect(ok).toMatchObject({ status: 'COMPLETED', provider: c!.peerId })
  })

  it('refuses a forwarded result signed by a peer not on the requester’s allowlist', async () => {
    // A – B – C; A admits B only, so C's answer (signed by C) is refused.
    const [b, c] = await nodes.spawn({}, {})
    const [a] = await nodes.spawn({ exchange: { access: { mode: 'allowlist', allowlist: [b!.peerId] } } })
    provideWhoami(c as ExchangeNode)
    await link(b as ExchangeNode, c as ExchangeNode)
    await link(a as ExchangeNode, b as ExchangeNode)
    await reaches(a as ExchangeNode, b as ExchangeNode, 'whoami', 1)
    const record = await a!.exchange.submit({ type: 'whoami', input: {} }, { maxAttempts: 1 }).result()
    expect(record.status).toBe('FAILED')
    expect(record.attempts[0]?.error?.code).toBe('ERR_ACCESS_DENIED')
    expect(record.output).toBeUndefined()
  })

  it('validates its PeerIds, and admits this node itself', () => {
    const self = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'
    expect(() => new AccessPolicy(self, { mode: 'allowlist', allowlist: ['bob'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
    expect(() => new AccessPolicy(self, { mode: 'closed' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
    const policy = new AccessPolicy(self, { mode: 'allowlist' })
    expect(policy.allows(self)).toBe(true)
    expect(policy.admit(self, self)).toBeUndefined()
  })
})

describe('node configuration: access and private networks', () => {
  it('takes the allowlist from the configuration and applies a change at run time', async () => {
    await using dir = await tempDir('p2p-ai-policy-')
    const friend = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'
    const node = await createNode(localInit(dir.path, { access: { mode: 'allowlist', allowlist: [friend] } }))
    try {
      expect(node.exchange.access).toEqual({ mode: 'allowlist', allowlist: [friend] })
      const change = node.reconfigure({ access: { mode: 'open' } })
      expect(change.applied).toEqual(['access.mode'])
      expect(node.exchange.access.mode).toBe('open')
      expect(() => node.reconfigure({ access: { allowlist: ['bob'] } })).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      )
    } finally {
      await node.stop()
    }
  })

  it('keeps out a node without the pre-shared key (network.psk / network.pskFile)', async () => {
    await using dir = await tempDir('p2p-ai-pnet-')
    const psk = generatePsk()
    const keyFile = join(dir.path, 'swarm.key')
    await writeFile(keyFile, psk, { mode: 0o600 })
    const hex = new TextDecoder().decode(psk).trim().split('\n').at(-1) as string
    const [withHex, withFile, without, otherKey] = await Promise.all([
      createNode(localInit(join(dir.path, 'a'), { network: { psk: hex } })),
      createNode(localInit(join(dir.path, 'b'), { network: { pskFile: keyFile } })),
      createNode(localInit(join(dir.path, 'c'))),
      createNode(localInit(join(dir.path, 'd'), { network: { psk: 'ab'.repeat(32) } })),
    ])
    try {
      await withFile.connect(withHex.getMultiaddrs()[0] as string)
      await waitUntil(() => withHex.peer(withFile.peerId)?.status === 'connected', 5_000)
      await expect(without.connect(withHex.getMultiaddrs()[0] as string)).rejects.toThrow()
      await expect(otherKey.connect(withHex.getMultiaddrs()[0] as string)).rejects.toThrow()
      await expect(withHex.connect(without.getMultiaddrs()[0] as string)).rejects.toThrow()
      expect(withHex.peers().map((p) => p.peerId)).toEqual([withFile.peerId])
    } finally {
      await Promise.all([withHex, withFile, without, otherKey].map((n) => n.stop()))
    }
  })

  it('refuses a malformed key, two keys at once, and a key file it cannot read', async () => {
    await using dir = await tempDir('p2p-ai-pnet-bad-')
    await expect(createNode(localInit(dir.path, { network: { psk: 'not hex' } }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      issues: [expect.objectContaining({ path: 'network.psk', expected: '64 hexadecimal digits' })],
    })
    await expect(
      createNode(localInit(dir.path, { network: { psk: 'ab'.repeat(32), pskFile: join(dir.path, 'k') } })),
    ).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      issues: [expect.objectContaining({ path: 'network.pskFile' })],
    })
    await expect(
      createNode(localInit(dir.path, { network: { pskFile: join(dir.path, 'missing.key') } })),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_PSK' })
    await writeFile(join(dir.path, 'junk.key'), 'not a key')
    await expect(
      createNode(localInit(dir.path, { network: { pskFile: join(dir.path, 'junk.key') } })),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_PSK' })
  })
})
