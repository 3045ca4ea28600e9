#!/usr/bin/env node
/**
 * The host program: starts one transport node with the options given as JSON in argv[2] and
 * reports on stdout, one JSON object per line, with `t` = ms since this process started:
 *
 * - `{ event: 'ready', peerId, addresses, peerIds, t }`, then `discovery` (libp2p's, once per new
 *   peer), `mdns` (every mDNS sighting, with `addresses`), `connect` and `disconnect` events with
 *   `peerId`, `connection` events (`state`: open or close, `peerId`, `kind`, `relay?`, `limited`,
 *   `remoteAddr`, `direction`), `reachability` (with the new status) and `relay` (`relays`: the relays holding a
 *   reservation, whenever they change);
 * - answers to commands read from stdin (one JSON object per line, echoing its `id`):
 *   `{ id, cmd: 'ping', peerId, timeoutMs? }` → `{ id, event: 'ping', ok, rtt? | error? }`,
 *   `{ id, cmd: 'dial', address, timeoutMs? }` → `{ id, event: 'dial', ok, error? }`,
 *   `{ id, cmd: 'peers' }` → `{ id, event: 'peers', peers }`,
 *   `{ id, cmd: 'connections' }` → `{ id, event: 'connections', connections: [{ peerId, kind,
 *   relay?, limited, remoteAddr, direction }] }`,
 *   `{ id, cmd: 'status' }` → `{ id, event: 'status', reachability, observed, announced, relays,
 *   dhtMode }`,
 *   `{ id, cmd: 'findPeer', peerId, timeoutMs? }` → `{ id, event: 'findPeer', ok, addresses? }`
 *   (DHT peer routing, then a dial),
 *   `{ id, cmd: 'provide', key }` → `{ id, event: 'provide', ok }`,
 *   `{ id, cmd: 'findProviders', key, timeoutMs? }` → `{ id, event: 'findProviders', providers:
 *   [{ peerId, addresses }] }`,
 *   `{ id, cmd: 'echo', peerId, message, timeoutMs? }` → `{ id, event: 'echo', ok, reply?,
 *   connection?, ms? }`: a stream on `/p2p-ai/testnet/echo/1.0.0`, which runs on limited (relayed)
 *   connections too; `ms` is the round trip of the successful attempt, stream opening included,
 *   timed in this process,
 *   `{ id, cmd: 'memory' }` → `{ id, event: 'memory', rss, heapUsed }`,
 *   `{ id, cmd: 'usage' }` → `{ id, event: 'usage', cpuUserUs, cpuSystemUs, rss }` (this
 *   process since it started),
 *   `{ id, cmd: 'stop' }` → `{ id, event: 'stopped' }` and exit 0.
 * - `{ event: 'error', code, message }` and exit 1 when the node cannot start.
 *
 * With `count: N` in the options the process runs N nodes with the same options (a crowd of light
 * peers for load tests); commands address the first, `peerIds` lists all.
 *
 * The node engineer may swap the transport for the full node here; the protocol stays.
 */
import { createInterface } from 'node:readline'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  connectionKind,
  createTransport,
  findCapabilityProviders,
  openStream,
  provideCapability,
  type Transport,
  type TransportInit,
} from '@p2p-ai/transport'
import { ECHO_PROTOCOL } from './constants.js'

type Json = Record<string, unknown>

function emit(event: Json): void {
  process.stdout.write(`${JSON.stringify({ ...event, t: Math.round(performance.now()) })}\n`)
}

function errorOf(err: unknown): Json {
  const e = err as { code?: unknown; name?: unknown; message?: unknown }
  return {
    code: typeof e.code === 'string' ? e.code : String(e.name ?? 'Error'),
    message: String(e.message ?? err),
  }
}

function parseOptions(raw: string | undefined): { init: TransportInit; count: number } {
  const parsed = JSON.parse(raw ?? '{}') as Json
  const { psk, count, ...rest } = parsed
  const init = rest as TransportInit
  if (typeof psk === 'string') {
    init.psk = new TextEncoder().encode(psk)
  }
  return { init, count: typeof count === 'number' ? count : 1 }
}

async function readAll(source: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of source) {
    text += decoder.decode(chunk instanceof Uint8Array ? chunk : chunk.subarray(), { stream: true })
  }
  return text + decoder.decode()
}

function describeConnections(node: Transport): Json[] {
  return node.getConnections().map((c) => ({
    peerId: c.remotePeer.toString(),
    ...connectionKind(c),
    remoteAddr: c.remoteAddr.toString(),
    direction: c.direction,
  }))
}

async function echoOnce(node: Transport, command: Json, signal: AbortSignal): Promise<Json> {
  const stream = await openStream(node, peerIdFromString(String(command.peerId)), ECHO_PROTOCOL, {
    signal,
    runOnLimitedConnection: true,
  })
  const connection = node.getConnections().find((c) => c.streams.includes(stream))
  if (!stream.send(new TextEncoder().encode(String(command.message)))) await stream.onDrain({ signal })
  await stream.close({ signal })
  const reply = await readAll(stream)
  return { reply, connection: connection === undefined ? null : connectionKind(connection) }
}

async function timedEcho(node: Transport, command: Json, signal: AbortSignal): Promise<Json> {
  const started = performance.now()
  const result = await echoOnce(node, command, signal)
  return { ...result, ms: performance.now() - started }
}

async function handle(node: Transport, command: Json): Promise<Json> {
  switch (command.cmd) {
    case 'ping': {
      const timeoutMs = typeof command.timeoutMs === 'number' ? command.timeoutMs : 2_000
      try {
        const rtt = await node.services.ping.ping(peerIdFromString(String(command.peerId)), {
          signal: AbortSignal.timeout(timeoutMs),
        })
        return { event: 'ping', ok: true, rtt }
      } catch (err) {
        return { event: 'ping', ok: false, error: errorOf(err) }
      }
    }
    case 'dial': {
      const timeoutMs = typeof command.timeoutMs === 'number' ? command.timeoutMs : 5_000
      try {
        await node.dial(multiaddr(String(command.address)), { signal: AbortSignal.timeout(timeoutMs) })
        return { event: 'dial', ok: true }
      } catch (err) {
        return { event: 'dial', ok: false, error: errorOf(err) }
      }
    }
    case 'peers':
      return { event: 'peers', peers: node.getPeers().map(String) }
    case 'memory': {
      const memory = process.memoryUsage()
      return { event: 'memory', rss: memory.rss, heapUsed: memory.heapUsed }
    }
    case 'usage': {
      const cpu = process.cpuUsage()
      return { event: 'usage', cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: process.memoryUsage().rss }
    }
    case 'connections':
      return { event: 'connections', connections: describeConnections(node) }
    case 'status':
      return {
        event: 'status',
        ...node.services.reachability.status(),
        dhtMode: node.services.dht?.getMode() ?? null,
        punch: node.services.tcpPunch?.status() ?? null,
      }
    case 'findPeer': {
      const timeoutMs = typeof command.timeoutMs === 'number' ? command.timeoutMs : 10_000
      try {
        const signal = AbortSignal.timeout(timeoutMs)
        const found = await node.peerRouting.findPeer(peerIdFromString(String(command.peerId)), { signal })
        await node.dial(found.id, { signal })
        return { event: 'findPeer', ok: true, addresses: found.multiaddrs.map(String) }
      } catch (err) {
        return { event: 'findPeer', ok: false, error: errorOf(err) }
      }
    }
    case 'provide': {
      try {
        await provideCapability(node, String(command.key), { signal: AbortSignal.timeout(15_000) })
        return { event: 'provide', ok: true }
      } catch (err) {
        return { event: 'provide', ok: false, error: errorOf(err) }
      }
    }
    case 'findProviders': {
      const timeoutMs = typeof command.timeoutMs === 'number' ? command.timeoutMs : 10_000
      const providers: Json[] = []
      try {
        for await (const provider of findCapabilityProviders(node, String(command.key), {
          signal: AbortSignal.timeout(timeoutMs),
        })) {
          providers.push({ peerId: provider.id.toString(), addresses: provider.multiaddrs.map(String) })
          // The first providers are what a requester uses; the rest of the walk only costs time.
          break
        }
        return { event: 'findProviders', ok: true, providers }
      } catch (err) {
        return { event: 'findProviders', ok: providers.length > 0, providers, error: errorOf(err) }
      }
    }
    case 'echo': {
      const timeoutMs = typeof command.timeoutMs === 'number' ? command.timeoutMs : 10_000
      const signal = AbortSignal.timeout(timeoutMs)
      let lastError: unknown
      // A connection can close under a stream being opened (a crossed duplicate trimmed, a relayed
      // one replaced by a direct one); a second attempt opens a stream on what remains.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          return {
            event: 'echo',
            ok: true,
            attempts: attempt + 1,
            ...(await timedEcho(node, command, signal)),
          }
        } catch (err) {
          lastError = err
        }
      }
      return { event: 'echo', ok: false, error: errorOf(lastError) }
    }
    default:
      return { event: 'unknown-command', cmd: String(command.cmd) }
  }
}

async function echo(node: Transport): Promise<void> {
  await node.handle(
    ECHO_PROTOCOL,
    async (stream) => {
      try {
        const text = await readAll(stream)
        stream.send(new TextEncoder().encode(text))
        await stream.close()
      } catch (err) {
        stream.abort(err as Error)
      }
    },
    { runOnLimitedConnection: true },
  )
}

async function main(): Promise<void> {
  let node: Transport
  const crowd: Transport[] = []
  try {
    const { init, count } = parseOptions(process.argv[2])
    node = await createTransport({ ...init, start: false })
    for (let i = 1; i < count; i++) {
      crowd.push(await createTransport({ ...init, start: false }))
    }
  } catch (err) {
    emit({ event: 'error', ...errorOf(err) })
    process.exit(1)
  }
  for (const each of [node, ...crowd]) {
    await echo(each)
  }
  node.services.reachability.addEventListener('change', (evt) =>
    emit({ event: 'reachability', ...evt.detail }),
  )
  let relays = ''
  node.addEventListener('self:peer:update', () => {
    const now = node.services.reachability.status().relays
    if (now.join() !== relays) {
      relays = now.join()
      emit({ event: 'relay', relays: now })
    }
  })
  node.addEventListener('peer:discovery', (evt) => {
    emit({
      event: 'discovery',
      peerId: evt.detail.id.toString(),
      addresses: evt.detail.multiaddrs.map(String),
    })
  })
  // mDNS sightings separately: libp2p's peer:discovery also fires for peers first met otherwise
  // (an inbound connection), and only once per peer.
  node.services.mdns?.addEventListener('peer', (evt) => {
    emit({ event: 'mdns', peerId: evt.detail.id.toString(), addresses: evt.detail.multiaddrs.map(String) })
  })
  node.addEventListener('peer:connect', (evt) => emit({ event: 'connect', peerId: evt.detail.toString() }))
  for (const state of ['open', 'close'] as const) {
    node.addEventListener(`connection:${state}`, (evt) =>
      emit({
        event: 'connection',
        state,
        peerId: evt.detail.remotePeer.toString(),
        ...connectionKind(evt.detail),
        remoteAddr: evt.detail.remoteAddr.toString(),
        direction: evt.detail.direction,
      }),
    )
  }
  node.addEventListener('peer:disconnect', (evt) =>
    emit({ event: 'disconnect', peerId: evt.detail.toString() }),
  )

  let stopping = false
  const stop = async (id?: unknown): Promise<void> => {
    if (stopping) return
    stopping = true
    await Promise.all([node, ...crowd].map(async (each) => each.stop()))
    emit({ event: 'stopped', ...(id === undefined ? {} : { id }) })
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())

  await Promise.all([node, ...crowd].map(async (each) => each.start()))
  emit({
    event: 'ready',
    peerId: node.peerId.toString(),
    addresses: node.getMultiaddrs().map(String),
    peerIds: [node, ...crowd].map((each) => each.peerId.toString()),
  })

  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    let command: Json
    try {
      command = JSON.parse(line) as Json
    } catch {
      emit({ event: 'bad-command', line })
      return
    }
    if (command.cmd === 'stop') {
      void stop(command.id)
      return
    }
    void handle(node, command).then((reply) => emit({ id: command.id, ...reply }))
  })
  // The test harness closing our stdin means it is gone: do not linger in the namespace.
  lines.on('close', () => void stop())
}

await main()
