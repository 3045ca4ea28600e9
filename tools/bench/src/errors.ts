/** A suite or case definition is invalid (bad name, duplicate case, bad round count...). */
export class InvalidSuiteError extends Error {
  static readonly code = 'ERR_INVALID_SUITE'
  readonly code = InvalidSuiteError.code
  override readonly name = 'InvalidSuiteError'
}

/** A measurement case returned something other than an object of finite numbers. */
export class InvalidMeasurementError extends Error {
  static readonly code = 'ERR_INVALID_MEASUREMENT'
  readonly code = InvalidMeasurementError.code
  override readonly name = 'InvalidMeasurementError'
}

/** The command line names a suite that has no compiled file in `dist/suites`. */
export class UnknownSuiteError extends Error {
  static readonly code = 'ERR_UNKNOWN_SUITE'
  readonly code = UnknownSuiteError.code
  override readonly name = 'UnknownSuiteError'
}

/** The command line could not be parsed. */
export class UsageError extends Error {
  static readonly code = 'ERR_USAGE'
  readonly code = UsageError.code
  override readonly name = 'UsageError'
}
