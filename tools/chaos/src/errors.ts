/** An option of `runChaos()` (or of the `p2p-chaos` command) is invalid; the message names it. */
export class InvalidChaosOptionError extends Error {
  static readonly code = 'ERR_INVALID_CHAOS_OPTION'
  readonly code = InvalidChaosOptionError.code
  override readonly name = 'InvalidChaosOptionError'
}

/**
 * The harness could not set the run up or drive it: a node did not start, a driver did not
 * answer. Not a finding about the system under test (those are the report's violations).
 */
export class ChaosHarnessError extends Error {
  static readonly code = 'ERR_CHAOS_HARNESS'
  readonly code = ChaosHarnessError.code
  override readonly name = 'ChaosHarnessError'
}
