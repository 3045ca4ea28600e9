/** This process cannot create network namespaces: not root, or no iproute2 `ip netns`. */
export class TestnetUnavailableError extends Error {
  static readonly code = 'ERR_TESTNET_UNAVAILABLE'
  readonly code = TestnetUnavailableError.code
  override readonly name = 'TestnetUnavailableError'
}

/** An `ip` command failed; the message carries the command line and its stderr. */
export class TestnetCommandError extends Error {
  static readonly code = 'ERR_TESTNET_COMMAND'
  readonly code = TestnetCommandError.code
  override readonly name = 'TestnetCommandError'
  readonly args: string[]

  constructor(args: string[], detail: string) {
    super(`ip ${args.join(' ')} failed: ${detail.trim()}`)
    this.args = args
  }
}

/** An option of `createTestnet()` or of a host program is invalid. */
export class InvalidTestnetOptionError extends Error {
  static readonly code = 'ERR_INVALID_TESTNET_OPTION'
  readonly code = InvalidTestnetOptionError.code
  override readonly name = 'InvalidTestnetOptionError'
}

/** The testnet was already destroyed. */
export class TestnetDestroyedError extends Error {
  static readonly code = 'ERR_TESTNET_DESTROYED'
  readonly code = TestnetDestroyedError.code
  override readonly name = 'TestnetDestroyedError'
}

/** A host program exited, or did not report what was awaited in time. */
export class HostNodeError extends Error {
  static readonly code = 'ERR_HOST_NODE'
  readonly code = HostNodeError.code
  override readonly name = 'HostNodeError'
}
