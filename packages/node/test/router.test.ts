import type { PeerId } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import type { Capabilities } from '@p2p-ai/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { DEFAULT_RELAYED_TASK_MAX_BYTES } from '../src/exchange/constants.js'
import { cost } from '../src/exchange/route/cost.js'
import { type Route, Router, type RouteSpec } from '../src/exchange/route/router.js'
import { AccessPolicy } from '../src/exchange/trust/access-policy.js'
import { PeerDirectory } from '../src/peers/directory.js'
import type { PeerConnection, PeerNetwork } from '../src/peers/types.js'

const SELF = '12D3KooWSELF000000000000000000000000000000000000000'
const peerId = (name: string): PeerId => ({ toString: () => name, equals: () => false }) as unknown as PeerId

function caps(extra: Partial<Capabilities> = {}): Capabilities {
  return {
    protocolMinor: 2,
    taskTypes: [],
    models: [],
    concurrency: 4,
    load: { running: 0, queued: 0 },
    ...extra,
  }
}

/** A router over a directory of made-up peers and an engine that runs `local` task types. */
function world(local: { types?: string[]; models?: Array<{ name: string; taskTypes: string[] }> } = {}) {
  const links = new Map<string, PeerConnection[]>()
  const network: PeerNetwork = {
    ping: async () => 1,
    hangUp: async () => {},
    redial: () => {},
    forget: () => {},
    connections: (p) => links.get(p.toString()) ?? [],
  }
  const directory = new PeerDirectory({ self: SELF, network, log: pino({ level: 'silent' }) })
  const load = { running: 0, queued: 0, concurrency: 2 }
  const engine = {
    capabilities: () => ({
      taskTypes: (local.types ?? []).map((name) => ({ name, backend: 'x' })),
      models: (local.models ?? []).map((m) => ({
        ...m,
        sha256: 'a'.repeat(64),
        sizeBytes: 1,
        loaded: false,
      })),
      concurrency: load.concurrency,
      running: load.running,
      queued: load.queued,
      maxQueueLength: 100,
      load: 0,
    }),
    load: () => load,
  } as unknown as TaskEngine
  const policy = new AccessPolicy(SELF)
  const router = new Router({ self: SELF, directory, engine, policy, maxHops: 10, relay: true })
  const add = (name: string, announced: Partial<Capabilities>, connection?: PeerConnection): void => {
    if (connection !== undefined) links.set(name, [connection])
    directory.onConnect(peerId(name))
    directory.onCapabilities(peerId(name), caps(announced))
  }
  return { router, directory, add, load, policy, links }
}

const RELAYED: PeerConnection = {
  kind: 'relayed',
  via: 'RELAY',
  limited: true,
  remoteAddr: '/ip4/11.8.1.1/tcp/4001/p2p/RELAY/p2p-circuit',
  direction: 'outbound',
}
const DIRECT: PeerConnection = {
  kind: 'direct',
  limited: false,
  remoteAddr: '/ip4/11.8.2.2/tcp/40001',
  direction: 'outbound',
}
const candidate = { peer: 'X', concurrency: 4, load: 1, latencyMs: 20, score: 1, recentDispatches: 0 }

function spec(extra: Partial<RouteSpec> = {}): RouteSpec {
  return {
    type: 'embed',
    input: {},
    target: 'auto',
    allowLocal: true,
    modelSha256: undefined,
    maxHops: 10,
    ...extra,
  }
}

const peerOf = (route: Route | undefined): string | undefined =>
  route === undefined ? undefined : route.kind === 'local' ? 'local' : route.peer

describe('the router', () => {
  it('runs a task here only when this node runs its type and has the model it names', () => {
    const { router } = world({ types: ['embed'], models: [{ name: 'mini', taskTypes: ['embed'] }] })
    expect(router.choose(spec({ target: 'local' }), new Set())).toEqual({ kind: 'local' })
    expect(router.choose(spec({ target: 'local', input: { model: 'mini' } }), new Set())).toEqual({
      kind: 'local',
    })
    expect(router.choose(spec({ target: 'local', input: { model: 'other' } }), new Set())).toBeUndefined()
    expect(router.choose(spec({ target: 'local', type: 'ocr' }), new Set())).toBeUndefined()
    expect(router.runsLocally('embed')).toBe(true)
  })

  it('sends a task aimed at a peer to that peer while it is connected, and not while it said it is busy', () => {
    const { router, add, directory } = world()
    add('P', { taskTypes: ['embed'] })
    expect(router.choose(spec({ target: 'P' }), new Set())).toMatchObject({ kind: 'direct', peer: 'P' })
    directory.book.recordBusy('P', 60_000)
    expect(router.choose(spec({ target: 'P' }), new Set())).toBeUndefined()
    expect(router.choose(spec({ target: 'Q' }), new Set())).toBeUndefined()
  })

  it('picks among capable peers and this node, peers with a free slot first', () => {
    const { router, add, load } = world({ types: ['embed'] })
    load.running = 2
    add('FULL', { taskTypes: ['embed'], concurrency: 1, load: { running: 1, queued: 0 } })
    add('FREE', { taskTypes: ['embed'], concurrency: 4 })
    add('OTHER', { taskTypes: ['ocr'] })
    for (let i = 0; i < 20; i++) expect(peerOf(router.choose(spec(), new Set()))).toBe('FREE')
  })

  it('leaves out peers that are excluded, refused by the access policy, tried already, or whose circuit is open', () => {
    const { router, add, directory, policy } = world()
    add('A', { taskTypes: ['embed'] })
    add('B', { taskTypes: ['embed'] })
    expect(peerOf(router.choose(spec({ exclude: new Set(['A']) }), new Set()))).toBe('B')
    expect(peerOf(router.choose(spec(), new Set(['B'])))).toBe('A')
    // Every candidate tried: they are tried again rather than none.
    expect(['A', 'B']).toContain(peerOf(router.choose(spec(), new Set(['A', 'B']))))
    directory.book.recordFailure('A', 'misbehaviour')
    for (let i = 0; i < 10; i++) expect(peerOf(router.choose(spec(), new Set()))).toBe('B')
    policy.set({ mode: 'allowlist', allowlist: [] })
    expect(router.choose(spec(), new Set())).toBeUndefined()
  })

  it('sends small tasks to a peer reached only through a relay, and keeps larger ones for a direct connection', () => {
    const { router, add, directory, links } = world()
    add('R', { taskTypes: ['embed'] }, RELAYED)
    const small = spec({ input: { text: 'hello' } })
    const large = spec({ input: { text: 'x'.repeat(DEFAULT_RELAYED_TASK_MAX_BYTES) } })
    expect(peerOf(router.choose(small, new Set()))).toBe('R')
    expect(peerOf(router.choose(spec({ ...small, target: 'R' }), new Set()))).toBe('R')
    expect(router.choose(large, new Set())).toBeUndefined()
    expect(router.choose(spec({ ...large, target: 'R' }), new Set())).toBeUndefined()
    expect(router.explain(large)).toBe(
      `the peers that run "embed" are reached only through a relay, and inputs over ${DEFAULT_RELAYED_TASK_MAX_BYTES} bytes wait for a direct connection`,
    )
    expect(router.explain(small)).toBeUndefined()
    // Hole punching brought a direct connection: the large one goes too.
    links.set('R', [DIRECT])
    directory.onConnectionsChanged(peerId('R'))
    expect(peerOf(router.choose(large, new Set()))).toBe('R')
  })

  it('prefers a peer it reaches directly over an equally loaded one it reaches through a relay', () => {
    const { router, add } = world()
    add('RELAYED', { taskTypes: ['embed'] }, RELAYED)
    add('DIRECT', { taskTypes: ['embed'] }, DIRECT)
    const picked = new Map<string, number>()
    for (let i = 0; i < 40; i++) {
      const peer = peerOf(router.choose(spec({ allowLocal: false }), new Set())) ?? 'none'
      picked.set(peer, (picked.get(peer) ?? 0) + 1)
    }
    expect(picked.get('DIRECT')).toBe(40)
    // The relayed path costs three times as much as the same peer reached directly.
    expect(cost({ ...candidate, relayed: true })).toBe(3 * cost(candidate))
  })

  it('relays a forward to a neighbour behind a relay only when the input is small', () => {
    const { router, add } = world()
    add('N', { taskTypes: [], reach: [{ taskType: 'ocr', hops: 1, via: 'P' }] }, RELAYED)
    expect(router.nextHop('ocr', 5, [], { image: 'x' })).toMatchObject({ peer: 'N', hops: 2 })
    expect(router.nextHop('ocr', 5, [], { image: 'x'.repeat(DEFAULT_RELAYED_TASK_MAX_BYTES) })).toMatchObject(
      {
        code: 'ERR_NO_ROUTE',
      },
    )
    expect(peerOf(router.choose(spec({ type: 'ocr', input: { image: 'x' } }), new Set()))).toBe('N')
  })

  it('asks for a model by name or hash only from peers that announce it', () => {
    const { router, add } = world()
    add('HAS', {
      taskTypes: ['embed'],
      models: [{ id: 'mini', sha256: 'b'.repeat(64), taskTypes: ['embed'] }],
    })
    add('LACKS', {
      taskTypes: ['embed'],
      models: [{ id: 'big', sha256: 'c'.repeat(64), taskTypes: ['embed'] }],
    })
    for (let i = 0; i < 10; i++) {
      expect(peerOf(router.choose(spec({ input: { model: 'mini' } }), new Set()))).toBe('HAS')
      expect(peerOf(router.choose(spec({ modelSha256: 'c'.repeat(64) }), new Set()))).toBe('LACKS')
    }
  })

  it('prefers a peer that announces the named model to this node or a peer that lists none for the type', () => {
    // This node runs `ner` but has no ner model; a peer lists none either; one peer has it.
    const { router, add } = world({ types: ['ner'] })
    add('NONE', { taskTypes: ['ner'] })
    add('HAS', {
      taskTypes: ['ner'],
      models: [{ id: 'bert-ner', sha256: 'd'.repeat(64), taskTypes: ['ner'] }],
    })
    for (let i = 0; i < 10; i++) {
      expect(peerOf(router.choose(spec({ type: 'ner', input: { model: 'bert-ner' } }), new Set()))).toBe(
        'HAS',
      )
    }
    // Nobody names it: those that list no model for the type may still have it.
    const picked = new Set<string | undefined>()
    for (let i = 0; i < 20; i++)
      picked.add(peerOf(router.choose(spec({ type: 'ner', input: { model: 'x' } }), new Set())))
    expect(picked.has('NONE') || picked.has('local')).toBe(true)
    expect(picked.has('HAS')).toBe(false)
  })

  it('keeps a task too large to send here, or nowhere', () => {
    const here = world({ types: ['embed'] })
    here.add('P', { taskTypes: ['embed'] })
    for (let i = 0; i < 10; i++)
      expect(here.router.choose(spec({ localOnly: true }), new Set())).toEqual({ kind: 'local' })
    const elsewhere = world()
    elsewhere.add('P', { taskTypes: ['embed'] })
    expect(elsewhere.router.choose(spec({ localOnly: true }), new Set())).toBeUndefined()
  })

  it('forwards through the neighbour with the fewest hops to a provider, within the hop budget', () => {
    const { router, add } = world()
    add('NEAR', { taskTypes: ['chunk'], reach: [{ taskType: 'ocr', hops: 1, via: 'X' }] })
    add('FAR', { taskTypes: [], reach: [{ taskType: 'ocr', hops: 3, via: 'Y' }] })
    expect(router.choose(spec({ type: 'ocr' }), new Set())).toMatchObject({
      kind: 'forward',
      peer: 'NEAR',
      hops: 2,
    })
    expect(router.choose(spec({ type: 'ocr' }), new Set(['NEAR']))).toMatchObject({ peer: 'FAR', hops: 4 })
    expect(router.choose(spec({ type: 'ocr', maxHops: 1 }), new Set())).toBeUndefined()
    expect(router.choose(spec({ type: 'ocr', maxHops: 3 }), new Set(['NEAR']))).toMatchObject({
      peer: 'NEAR',
    })
  })

  it('ignores a route back through this node (split horizon), from a peer below minor 1, or one just refused', () => {
    const { router, add, directory } = world()
    add('BACK', { taskTypes: [], reach: [{ taskType: 'ocr', hops: 1, via: SELF }] })
    add('OLD', { protocolMinor: 0, taskTypes: [], reach: [{ taskType: 'ocr', hops: 1, via: 'X' }] })
    expect(router.choose(spec({ type: 'ocr' }), new Set())).toBeUndefined()
    add('GOOD', { taskTypes: [], reach: [{ taskType: 'ocr', hops: 1, via: 'X' }] })
    expect(peerOf(router.choose(spec({ type: 'ocr' }), new Set()))).toBe('GOOD')
    directory.refuseRoute('GOOD', 'ocr')
    expect(router.choose(spec({ type: 'ocr' }), new Set())).toBeUndefined()
  })

  it('announces what it reaches through neighbours, the fewest links first, but not what it runs itself', () => {
    const { router, add } = world({ types: ['chunk'] })
    add('A', { taskTypes: ['ocr', 'chunk'] })
    add('B', {
      taskTypes: [],
      reach: [
        { taskType: 'ocr', hops: 1, via: 'Z' },
        { taskType: 'embed', hops: 2, via: 'Z' },
      ],
    })
    expect(router.reach()).toEqual([
      { taskType: 'embed', hops: 3, via: 'B' },
      { taskType: 'ocr', hops: 1, via: 'A' },
    ])
  })

  it('picks the next hop of a task it relays, or says why there is none', () => {
    const { router, add } = world()
    add('M', { taskTypes: [], reach: [{ taskType: 'ocr', hops: 2, via: 'Z' }] })
    expect(router.nextHop('ocr', 5, ['REQUESTER'])).toMatchObject({ peer: 'M', hops: 3 })
    expect(router.nextHop('ocr', 2, ['REQUESTER'])).toMatchObject({ code: 'ERR_TTL_EXPIRED' })
    expect(router.nextHop('ocr', 5, ['REQUESTER', 'M'])).toMatchObject({ code: 'ERR_NO_ROUTE' })
    expect(router.nextHop('embed', 5, ['REQUESTER'])).toMatchObject({ code: 'ERR_NO_ROUTE' })
  })

  it('sends nothing to a paused peer, and counts a paused neighbour as a relay only', () => {
    const { router, add, directory } = world()
    const figures = { cpu: 10, nodeCpu: 0, memoryFree: 0 }
    add('PAUSED', { protocolMinor: 4, taskTypes: ['embed', 'ocr'], resources: { ...figures, paused: true } })
    add('AWAKE', { protocolMinor: 4, taskTypes: ['embed'], resources: figures })
    for (let i = 0; i < 10; i++) expect(peerOf(router.choose(spec(), new Set()))).toBe('AWAKE')
    expect(router.choose(spec({ type: 'ocr' }), new Set())).toBeUndefined()
    expect(router.reach()).toEqual([{ taskType: 'embed', hops: 1, via: 'AWAKE' }])
    // Resumed: it announces so, and gets tasks again.
    directory.onCapabilities(
      peerId('PAUSED'),
      caps({ protocolMinor: 4, taskTypes: ['ocr'], resources: figures }),
    )
    expect(peerOf(router.choose(spec({ type: 'ocr' }), new Set()))).toBe('PAUSED')
  })

  it('prefers a peer whose owner leaves the machine alone to one whose owner is using it', () => {
    const { router, add } = world()
    add('BUSY-OWNER', {
      protocolMinor: 4,
      taskTypes: ['embed'],
      resources: { cpu: 90, nodeCpu: 10, memoryFree: 0 },
    })
    add('IDLE-OWNER', {
      protocolMinor: 4,
      taskTypes: ['embed'],
      resources: { cpu: 20, nodeCpu: 10, memoryFree: 0 },
    })
    const picks = Array.from({ length: 6 }, () => peerOf(router.choose(spec(), new Set())))
    expect(picks.every((p) => p === 'IDLE-OWNER')).toBe(true)
  })

  it('runs its own tasks elsewhere while paused, and itself when no peer can', () => {
    const { router, add } = world({ types: ['embed', 'chunk'] })
    add('PEER', { protocolMinor: 4, taskTypes: ['embed'] })
    router.setLocal({ paused: true, othersCpu: 0.5 })
    for (let i = 0; i < 6; i++) expect(peerOf(router.choose(spec(), new Set()))).toBe('PEER')
    expect(peerOf(router.choose(spec({ type: 'chunk' }), new Set()))).toBe('local')
  })
})
