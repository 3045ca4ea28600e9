import type { NodeState } from './lifecycle.js'

/** Where a configuration value came from. */
export type ConfigSource = 'file' | 'env' | 'init'

/** One problem found while validating a configuration. */
export interface ConfigIssue {
  /** Dotted field path, e.g. `network.listenPort`; `''` for the document itself. */
  readonly path: string
  /** What the field must be, e.g. `an integer between 0 and 65535`. */
  readonly expected: string
  /** The value found (`undefined` when the field is missing), as parsed from its source. */
  readonly value: unknown
  /** Where the value came from. */
  readonly source: ConfigSource
  /** The environment variable that set the value, for `source: 'env'`. */
  readonly envVar?: string
  /** Where the value is in the config file (1-based), for `source: 'file'`. */
  readonly line?: number
  readonly column?: number
  /** One line: `network.listenPort: expected an integer between 0 and 65535, found 70000 (from P2P_AI_NETWORK__LISTEN_PORT)`. */
  readonly message: string
}

/** The configuration (file, environment or `createNode` init) is invalid; `issues` lists every problem. */
export class ConfigValidationError extends Error {
  static readonly code = 'ERR_CONFIG_INVALID'
  readonly code = ConfigValidationError.code
  override readonly name = 'ConfigValidationError'
  readonly issues: readonly ConfigIssue[]
  /** The config file, when one was read. */
  readonly file: string | undefined

  constructor(issues: readonly ConfigIssue[], file?: string) {
    const where = file === undefined ? 'configuration' : `configuration (${file})`
    const n = issues.length
    super(
      `invalid ${where}: ${n} problem${n === 1 ? '' : 's'}\n${issues.map((i) => `  - ${i.message}`).join('\n')}`,
    )
    this.issues = issues
    this.file = file
  }
}

/** The config file is not valid YAML; `line` and `column` are 1-based. */
export class ConfigSyntaxError extends Error {
  static readonly code = 'ERR_CONFIG_SYNTAX'
  readonly code = ConfigSyntaxError.code
  override readonly name = 'ConfigSyntaxError'
  readonly file: string
  readonly line: number
  readonly column: number

  constructor(file: string, line: number, column: number, reason: string) {
    super(`${file}:${line}:${column}: YAML syntax error: ${reason}`)
    this.file = file
    this.line = line
    this.column = column
  }
}

/** The config file could not be read (missing, a directory, no permission). */
export class ConfigReadError extends Error {
  static readonly code = 'ERR_CONFIG_READ'
  readonly code = ConfigReadError.code
  override readonly name = 'ConfigReadError'
  readonly file: string

  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`cannot read config file ${file}: ${reason}`, options)
    this.file = file
  }
}

/** A lifecycle transition that the state machine does not allow, e.g. `STOPPED → ACTIVE`. */
export class InvalidStateTransitionError extends Error {
  static readonly code = 'ERR_INVALID_STATE_TRANSITION'
  readonly code = InvalidStateTransitionError.code
  override readonly name = 'InvalidStateTransitionError'
  readonly from: NodeState
  readonly to: NodeState

  constructor(from: NodeState, to: NodeState, why?: string) {
    super(`invalid node state transition ${from} → ${to}${why === undefined ? '' : `: ${why}`}`)
    this.from = from
    this.to = to
  }
}

/** `stop()` was called (or the start signal aborted) while the node was starting. */
export class StartAbortedError extends Error {
  static readonly code = 'ERR_START_ABORTED'
  readonly code = StartAbortedError.code
  override readonly name = 'StartAbortedError'
}

/** The node failed to start; `cause` holds the component's error. The node is STOPPED afterwards. */
export class StartFailedError extends Error {
  static readonly code = 'ERR_START_FAILED'
  readonly code = StartFailedError.code
  override readonly name = 'StartFailedError'
  /** The component that failed: `identity`, `transport`, `engine`, ... */
  readonly component: string

  constructor(component: string, cause: unknown) {
    super(`node failed to start: ${component}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    })
    this.component = component
  }
}

/** The data directory cannot be created or written. */
export class DataDirError extends Error {
  static readonly code = 'ERR_DATA_DIR'
  readonly code = DataDirError.code
  override readonly name = 'DataDirError'
  readonly path: string

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`data directory ${path} is not usable: ${reason}`, options)
    this.path = path
  }
}

/** A health check did not answer within its time box. */
export class HealthCheckTimeoutError extends Error {
  static readonly code = 'ERR_HEALTH_CHECK_TIMEOUT'
  readonly code = HealthCheckTimeoutError.code
  override readonly name = 'HealthCheckTimeoutError'
}

/** A health check with this name is already registered. */
export class DuplicateHealthCheckError extends Error {
  static readonly code = 'ERR_DUPLICATE_HEALTH_CHECK'
  readonly code = DuplicateHealthCheckError.code
  override readonly name = 'DuplicateHealthCheckError'
}

/** The operation needs an ACTIVE node. */
export class NodeNotActiveError extends Error {
  static readonly code = 'ERR_NODE_NOT_ACTIVE'
  readonly code = NodeNotActiveError.code
  override readonly name = 'NodeNotActiveError'
}

/** `connect()` was given something that is not a multiaddr ending in `/p2p/<peerId>`. */
export class InvalidPeerAddressError extends Error {
  static readonly code = 'ERR_INVALID_PEER_ADDRESS'
  readonly code = InvalidPeerAddressError.code
  override readonly name = 'InvalidPeerAddressError'
  readonly address: string

  constructor(address: string, reason: string) {
    super(`invalid peer address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

/** `connect()` could not reach the peer at the address given; `cause` holds libp2p's error. */
export class DialFailedError extends Error {
  static readonly code = 'ERR_DIAL_FAILED'
  readonly code = DialFailedError.code
  override readonly name = 'DialFailedError'
  readonly address: string

  constructor(address: string, cause: unknown) {
    super(`could not connect to ${address}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    })
    this.address = address
  }
}
