import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import {
  InvalidAnnounceAddressError,
  InvalidBootstrapAddressError,
  InvalidListenAddressError,
  InvalidTransportOptionError,
} from './errors.js'

/** Parses every listen address, naming the first bad one. */
export function parseListen(listen: unknown): string[] {
  if (!Array.isArray(listen)) {
    throw new InvalidTransportOptionError('listen', 'expected an array of multiaddr strings')
  }
  return listen.map((address: unknown) => {
    if (typeof address !== 'string') {
      throw new InvalidListenAddressError(String(address), 'not a string')
    }
    try {
      multiaddr(address)
    } catch (err) {
      throw new InvalidListenAddressError(address, (err as Error).message)
    }
    return address
  })
}

/**
 * Parses the addresses an operator announces on top of what the node finds itself (e.g. the public
 * address of a port forward): full multiaddrs without `/p2p/`, which libp2p appends.
 */
export function parseAnnounce(announce: unknown): string[] {
  if (!Array.isArray(announce)) {
    throw new InvalidTransportOptionError('announce', 'expected an array of multiaddr strings')
  }
  return announce.map((address: unknown) => {
    if (typeof address !== 'string') {
      throw new InvalidAnnounceAddressError(String(address), 'not a string')
    }
    let ma: Multiaddr
    try {
      ma = multiaddr(address)
    } catch (err) {
      throw new InvalidAnnounceAddressError(address, (err as Error).message)
    }
    if (ma.getComponents().length < 2) {
      throw new InvalidAnnounceAddressError(
        address,
        'needs a host and a transport, e.g. /ip4/203.0.113.7/tcp/4001',
      )
    }
    return address
  })
}

/** Checks an optional boolean option, returning the default when it is absent. */
export function boolOption(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'boolean') {
    throw new InvalidTransportOptionError(option, `expected a boolean, got ${String(value)}`)
  }
  return value
}

/** Checks that an option is absent, `false`, `true` or a plain object. */
export function objectOption<T extends object>(option: string, value: unknown): T | boolean | undefined {
  if (value === undefined || typeof value === 'boolean') {
    return value
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidTransportOptionError(option, 'expected a boolean or an options object')
  }
  return value as T
}

/** A validated bootstrap entry. */
export interface BootstrapPeer {
  address: string
  peerId: string
}

/**
 * Parses the bootstrap list: each entry must be a multiaddr with a transport part and a final
 * `/p2p/<peerId>`. @libp2p/bootstrap would throw an uncoded error on a malformed entry and silently
 * drop one without a peer id; we name the entry instead.
 */
export function parseBootstrap(list: unknown): BootstrapPeer[] {
  if (!Array.isArray(list)) {
    throw new InvalidTransportOptionError('bootstrap', 'expected an array of multiaddr strings')
  }
  return list.map((address: unknown, index) => {
    if (typeof address !== 'string') {
      throw new InvalidBootstrapAddressError(String(address), index, 'not a string')
    }
    let ma: Multiaddr
    try {
      ma = multiaddr(address)
    } catch (err) {
      throw new InvalidBootstrapAddressError(address, index, (err as Error).message)
    }
    const components = ma.getComponents()
    const last = components.at(-1)
    if (last?.code !== CODE_P2P || last.value === undefined) {
      throw new InvalidBootstrapAddressError(address, index, 'must end with /p2p/<peerId>')
    }
    if (components.length < 2) {
      throw new InvalidBootstrapAddressError(address, index, 'needs an address before /p2p/<peerId>')
    }
    try {
      peerIdFromString(last.value)
    } catch (err) {
      throw new InvalidBootstrapAddressError(address, index, `bad peer id: ${(err as Error).message}`)
    }
    return { address, peerId: last.value }
  })
}

/** Checks an optional integer option, returning the default when it is absent. */
export function intOption(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidTransportOptionError(
      option,
      `expected an integer in [${min}, ${max}], got ${String(value)}`,
    )
  }
  return value
}
