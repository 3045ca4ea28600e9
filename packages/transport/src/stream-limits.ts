import { DEFAULT_STREAM_LIMITS } from './constants.js'
import { InvalidTransportOptionError } from './errors.js'

/** Per-protocol stream limits, as `libp2p.handle()` and `libp2p.dialProtocol()` take them. */
export interface StreamLimits {
  /** Concurrent inbound streams of one protocol on one connection. @default 1024 */
  maxInboundStreams: number
  /** Concurrent outbound streams of one protocol on one connection. @default 1024 */
  maxOutboundStreams: number
}

/**
 * The stream limits to pass when registering a protocol, so a busy peer is not reset at libp2p's
 * defaults (32 inbound, 64 outbound):
 *
 * ```ts
 * await node.handle('/p2p-ai/task/1.0.0', onTask, streamLimits())
 * await node.dialProtocol(peer, '/p2p-ai/task/1.0.0', { ...streamLimits(), signal })
 * ```
 *
 * Pass the same options to `dialProtocol()` for protocols this node only dials: libp2p reads the
 * outbound limit from the local handler when there is one, and from the dial options otherwise.
 *
 * @throws {InvalidTransportOptionError} when a limit is not a positive integer
 */
export function streamLimits(overrides: Partial<StreamLimits> = {}): StreamLimits {
  const limits = { ...DEFAULT_STREAM_LIMITS, ...overrides }
  checkStreamLimit('streamLimits.maxInboundStreams', limits.maxInboundStreams)
  checkStreamLimit('streamLimits.maxOutboundStreams', limits.maxOutboundStreams)
  return limits
}

function checkStreamLimit(option: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidTransportOptionError(option, `expected a positive integer, got ${String(value)}`)
  }
}
