/** A listen address could not be parsed as a multiaddr. */
export class InvalidListenAddressError extends Error {
  static readonly code = 'ERR_INVALID_LISTEN_ADDRESS'
  readonly code = InvalidListenAddressError.code
  override readonly name = 'InvalidListenAddressError'
  /** The offending entry, as given. */
  readonly address: string

  constructor(address: string, reason: string) {
    super(`invalid listen address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

/** A bootstrap entry is not a multiaddr ending in `/p2p/<peerId>`. */
export class InvalidBootstrapAddressError extends Error {
  static readonly code = 'ERR_INVALID_BOOTSTRAP_ADDRESS'
  readonly code = InvalidBootstrapAddressError.code
  override readonly name = 'InvalidBootstrapAddressError'
  /** The offending entry, as given. */
  readonly address: string
  /** Position of the entry in the bootstrap list. */
  readonly index: number

  constructor(address: string, index: number, reason: string) {
    super(`invalid bootstrap address #${index} ${JSON.stringify(address)}: ${reason}`)
    this.address = address
    this.index = index
  }
}

/** `mdns.interface` names no network interface of this machine, or one without an IPv4 address. */
export class UnknownInterfaceError extends Error {
  static readonly code = 'ERR_UNKNOWN_INTERFACE'
  readonly code = UnknownInterfaceError.code
  override readonly name = 'UnknownInterfaceError'
  /** The requested interface, as given. */
  readonly interface: string

  constructor(iface: string, available: string[]) {
    super(
      `unknown network interface ${JSON.stringify(iface)}: expected 'lan', 'loopback', an interface name or one of its IPv4 addresses (IPv4 interfaces here: ${available.join(', ') || 'none'})`,
    )
    this.interface = iface
  }
}

/**
 * Every listen address is a QUIC one, and the QUIC transport is off (`quic: false`) or cannot be
 * loaded here (`reason`): the node could not listen at all.
 */
export class QuicUnavailableError extends Error {
  static readonly code = 'ERR_QUIC_UNAVAILABLE'
  readonly code = QuicUnavailableError.code
  override readonly name = 'QuicUnavailableError'
  /** Why QUIC is not available. */
  readonly reason: string

  constructor(reason: string) {
    super(
      `cannot listen: every listen address is QUIC, and QUIC is unavailable (${reason}); add a TCP address such as /ip4/0.0.0.0/tcp/0`,
    )
    this.reason = reason
  }
}

/** The pre-shared key is not a libp2p pnet key (see `generatePsk()`). */
export class InvalidPskError extends Error {
  static readonly code = 'ERR_INVALID_PSK'
  readonly code = InvalidPskError.code
  override readonly name = 'InvalidPskError'
}

/** The identity's private key could not be turned into a libp2p key. */
export class InvalidIdentityError extends Error {
  static readonly code = 'ERR_INVALID_IDENTITY'
  readonly code = InvalidIdentityError.code
  override readonly name = 'InvalidIdentityError'
}

/** A numeric or string option is out of range or of the wrong type. */
export class InvalidTransportOptionError extends Error {
  static readonly code = 'ERR_INVALID_TRANSPORT_OPTION'
  readonly code = InvalidTransportOptionError.code
  override readonly name = 'InvalidTransportOptionError'
  /** Dotted path of the option, e.g. `mdns.intervalMs`. */
  readonly option: string

  constructor(option: string, reason: string) {
    super(`invalid transport option ${option}: ${reason}`)
    this.option = option
  }
}

/** A UDP socket for mDNS could not be opened or pinned to its interface. */
export class MdnsSocketError extends Error {
  static readonly code = 'ERR_MDNS_SOCKET'
  readonly code = MdnsSocketError.code
  override readonly name = 'MdnsSocketError'
  readonly interface: string

  constructor(iface: string, address: string, cause: Error) {
    super(`cannot run mDNS on interface ${iface} (${address}): ${cause.message}`, { cause })
    this.interface = iface
  }
}

/** An `announce` entry is not a multiaddr. */
export class InvalidAnnounceAddressError extends Error {
  static readonly code = 'ERR_INVALID_ANNOUNCE_ADDRESS'
  readonly code = InvalidAnnounceAddressError.code
  override readonly name = 'InvalidAnnounceAddressError'
  /** The offending entry, as given. */
  readonly address: string

  constructor(address: string, reason: string) {
    super(`invalid announce address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

/** A capability key is empty, not a string, or too long. */
export class InvalidCapabilityKeyError extends Error {
  static readonly code = 'ERR_INVALID_CAPABILITY_KEY'
  readonly code = InvalidCapabilityKeyError.code
  override readonly name = 'InvalidCapabilityKeyError'
}

/** Capability discovery needs the DHT, and this node runs without it (`dht: false`). */
export class DhtDisabledError extends Error {
  static readonly code = 'ERR_DHT_DISABLED'
  readonly code = DhtDisabledError.code
  override readonly name = 'DhtDisabledError'

  constructor(operation: string) {
    super(`${operation} needs the DHT: create the transport with dht: true (or { mode: 'auto' })`)
  }
}

/** No DHT server took a capability record: none is known yet, or none answered. */
export class CapabilityNotStoredError extends Error {
  static readonly code = 'ERR_CAPABILITY_NOT_STORED'
  readonly code = CapabilityNotStoredError.code
  override readonly name = 'CapabilityNotStoredError'

  constructor(key: string) {
    super(`no DHT server took the record of "${key}": the node knows no DHT server yet, or none answered`)
  }
}
