/** The metrics endpoint cannot listen: the port is taken (another node?) or the address is not this machine's. */
export class MetricsListenError extends Error {
  static readonly code = 'ERR_METRICS_LISTEN'
  readonly code = MetricsListenError.code
  override readonly name = 'MetricsListenError'
  readonly host: string
  readonly port: number

  constructor(host: string, port: number, reason: string, options?: ErrorOptions) {
    super(`the metrics endpoint cannot listen on ${host}:${port}: ${reason}`, options)
    this.host = host
    this.port = port
  }
}

/** The bearer token file of the metrics endpoint is missing, unreadable or empty. */
export class MetricsTokenError extends Error {
  static readonly code = 'ERR_METRICS_TOKEN'
  readonly code = MetricsTokenError.code
  override readonly name = 'MetricsTokenError'
  readonly path: string

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`metrics token file ${path}: ${reason}`, options)
    this.path = path
  }
}

/** `attach` was called on a registry that already collects from a node: one node per registry. */
export class MetricsAttachedError extends Error {
  static readonly code = 'ERR_METRICS_ATTACHED'
  readonly code = MetricsAttachedError.code
  override readonly name = 'MetricsAttachedError'

  constructor() {
    super('these metrics already collect from a node; make one nodeMetrics() per node')
  }
}
