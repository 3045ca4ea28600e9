/** The tracing plug-in's coded errors. */

/** A tracing option out of range (`sampleRate`, `retentionMs`, an OTLP endpoint that is not a URL...). */
export class TracingOptionError extends Error {
  static readonly code = 'ERR_TRACING_OPTION'
  readonly code = TracingOptionError.code
  override readonly name = 'TracingOptionError'
}

/** The span store could not be opened or written (a damaged file, a full disk). */
export class TraceStoreError extends Error {
  static readonly code = 'ERR_TRACE_STORE'
  readonly code = TraceStoreError.code
  override readonly name = 'TraceStoreError'
}
