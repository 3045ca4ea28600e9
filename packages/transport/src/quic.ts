import type { ComponentLogger, Metrics, PrivateKey, Transport } from '@libp2p/interface'
import { QUIC_UNAVAILABLE_WARNING } from './constants.js'
import { ensurePromiseWithResolvers } from './promise-with-resolvers.js'

/** Whether this node can use QUIC, and if not, why. */
export interface QuicStatus {
  /** The QUIC transport is loaded: the node dials `/udp/…/quic-v1` addresses and listens on those it was given. */
  available: boolean
  /** Why it is not: `quic: false`, or why `@chainsafe/libp2p-quic` could not be loaded here. */
  reason?: string
}

/** What the transport needs of `@chainsafe/libp2p-quic`, without tying our types to it. */
type QuicFactory = () => (components: {
  logger: ComponentLogger
  privateKey: PrivateKey
  metrics?: Metrics
}) => Transport

type QuicLoad = { available: true; quic: QuicFactory } | { available: false; reason: string }

let loading: Promise<QuicLoad> | undefined

/**
 * Loads the QUIC transport once per process, on first use: `@chainsafe/libp2p-quic` is an
 * optional dependency with a native module (napi-rs, prebuilt per platform), so it may be absent
 * (npm and pnpm skip it on Node.js < 22, whose engines range it excludes) or fail to load (a
 * platform without a prebuilt binary, e.g. 32-bit ARM). Then the node runs on TCP, WebSockets and
 * relays; the reason is given once as a process warning and in every node's reachability status.
 */
export async function loadQuic(): Promise<QuicLoad> {
  loading ??= (async (): Promise<QuicLoad> => {
    // The module calls Promise.withResolvers (ES2024), missing on Node 20.
    ensurePromiseWithResolvers()
    try {
      const module = await import('@chainsafe/libp2p-quic')
      return { available: true, quic: module.quic as unknown as QuicFactory }
    } catch (err) {
      const reason = quicLoadFailure(err)
      process.emitWarning(
        `QUIC transport unavailable (${reason}); running on TCP, WebSockets and relays only. ` +
          'Install the optional dependency with `npm install @chainsafe/libp2p-quic` (Node.js 20.19+ ' +
          'on linux/macOS/windows x64 or arm64) to listen on and dial /udp/…/quic-v1 addresses.',
        { code: QUIC_UNAVAILABLE_WARNING },
      )
      return { available: false, reason }
    }
  })()
  return loading
}

function quicLoadFailure(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('@chainsafe/libp2p-quic')) {
    return '@chainsafe/libp2p-quic is not installed'
  }
  const message = String(e?.message ?? err).split('\n')[0] ?? ''
  return `@chainsafe/libp2p-quic failed to load on ${process.platform}-${process.arch}: ${message}`
}

const QUIC_ADDRESS = /\/quic-v1(\/|$)/

/** Whether a multiaddr string needs the QUIC transport. */
export function isQuicAddress(address: string): boolean {
  return QUIC_ADDRESS.test(address)
}
