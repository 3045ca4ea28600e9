import { WebSocket as WsWebSocket } from 'ws'

/**
 * Installs a global `WebSocket` where the runtime lacks one (Node 20 without
 * `--experimental-websocket`), because @libp2p/websockets dials with the global constructor. The
 * fallback is the `ws` client that @libp2p/websockets already uses for its listener; it provides
 * the WHATWG surface the dialler needs (`binaryType`, `addEventListener`, `bufferedAmount`).
 * A native implementation is never replaced. Called by `createTransport()`; importing this package
 * has no side effects.
 *
 * @returns `true` if the fallback was installed by this call
 */
export function ensureWebSocket(): boolean {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') {
    return false
  }
  Object.defineProperty(globalThis, 'WebSocket', {
    value: WsWebSocket,
    writable: true,
    enumerable: false,
    configurable: true,
  })
  return true
}
