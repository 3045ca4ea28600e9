#!/usr/bin/env node
/**
 * The host program: starts one transport node with the options given as JSON in argv[2] and
 * reports on stdout, one JSON object per line, with `t` = ms since this process started:
 *
 * - `{ event: 'ready', peerId, addresses, t }`, then `discovery` (libp2p's, once per new peer),
 *   `mdns` (every mDNS sighting, with `addresses`), `connect` and `disconnect` events with `peerId`;
 * - answers to commands read from stdin (one JSON object per line, echoing its `id`):
 *   `{ id, cmd: 'ping', peerId, timeoutMs? }` → `{ id, event: 'ping', ok, rtt? | error? }`,
 *   `{ id, cmd: 'dial', address }` → `{ id, event: 'dial', ok, error? }`,
 *   `{ id, cmd: 'peers' }` → `{ id, event: 'peers', peers }`,
 *   `{ id, cmd: 'memory' }` → `{ id, event: 'memory', rss, heapUsed }`,
 *   `{ id, cmd: 'stop' }` → `{ id, event: 'stopped' }` and exit 0.
 * - `{ event: 'error', code, message }` and exit 1 when the node cannot start.
 *
 * The node engineer may swap the transport for the full node here; the protocol stays.
 */
import { createInterface } from 'node:readline'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createTransport, type Transport, type TransportInit } from '@p2p-ai/transport'

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

function parseOptions(raw: string | undefined): TransportInit {
  const parsed = JSON.parse(raw ?? '{}') as Json
  const { psk, ...rest } = parsed
  const init = rest as TransportInit
  if (typeof psk === 'string') {
    init.psk = new TextEncoder().encode(psk)
  }
  return init
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
      try {
        await node.dial(multiaddr(String(command.address)), { signal: AbortSignal.timeout(5_000) })
        return { event: 'dial', ok: true }
      } catch (err) {
        return { event: 'dial', ok: false, error: errorOf(err) }
      }
    }
    case 'peers':
      return { event: 'peers', peers: node.getPeers().map(String) }
    case 'memory': {
      const usage = process.memoryUsage()
      return { event: 'memory', rss: usage.rss, heapUsed: usage.heapUsed }
    }
    default:
      return { event: 'unknown-command', cmd: String(command.cmd) }
  }
}

async function main(): Promise<void> {
  let node: Transport
  try {
    node = await createTransport({ ...parseOptions(process.argv[2]), start: false })
  } catch (err) {
    emit({ event: 'error', ...errorOf(err) })
    process.exit(1)
  }
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
  node.addEventListener('peer:disconnect', (evt) =>
    emit({ event: 'disconnect', peerId: evt.detail.toString() }),
  )

  let stopping = false
  const stop = async (id?: unknown): Promise<void> => {
    if (stopping) return
    stopping = true
    await node.stop()
    emit({ event: 'stopped', ...(id === undefined ? {} : { id }) })
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())

  await node.start()
  emit({ event: 'ready', peerId: node.peerId.toString(), addresses: node.getMultiaddrs().map(String) })

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
