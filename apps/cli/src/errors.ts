import { BIN_NAME, EXIT } from './constants.js'
import { policyOf } from './error-policy.js'

/**
 * Errors of the CLI. Each carries a stable `code`; its exit code comes from the table of every
 * code (error-policy.ts), and `hint`, the next thing to try, either from the instance (when it
 * knows more, such as the pid) or from that table.
 */
export interface CliErrorLike {
  readonly code: string
  readonly message: string
  readonly exitCode: number
  readonly hint?: string | undefined
}

/** Base of the CLI's own errors: a code, the exit code the table gives it, an optional hint. */
export abstract class CliError extends Error implements CliErrorLike {
  abstract readonly code: string
  readonly hint: string | undefined

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options)
    this.hint = hint
  }

  get exitCode(): number {
    return policyOf(this.code)?.exit ?? EXIT.FAILURE
  }
}

/** The command line is wrong: an unknown command or option, a bad value, a missing argument. */
export class UsageError extends CliError {
  static readonly code = 'ERR_USAGE'
  readonly code = UsageError.code
  override readonly name = 'UsageError'
}

/** The node's configuration (file, environment or flags) does not validate. */
export class ConfigError extends CliError {
  static readonly code = 'ERR_CONFIG'
  readonly code = ConfigError.code
  override readonly name = 'ConfigError'
}

/** No node runs for the data directory (no control file, a dead pid, or nobody answers). */
export class NodeNotRunningError extends CliError {
  static readonly code = 'ERR_NODE_NOT_RUNNING'
  readonly code = NodeNotRunningError.code
  override readonly name = 'NodeNotRunningError'
  readonly dataDir: string

  constructor(dataDir: string, detail = '') {
    super(
      `no node is running on this machine for data directory ${dataDir}${detail}`,
      `start one with \`${BIN_NAME} node start\` (or \`${BIN_NAME} node start --detach\` to run it in the background)`,
    )
    this.dataDir = dataDir
  }
}

/** A node already runs from this data directory. */
export class NodeAlreadyRunningError extends CliError {
  static readonly code = 'ERR_NODE_ALREADY_RUNNING'
  readonly code = NodeAlreadyRunningError.code
  override readonly name = 'NodeAlreadyRunningError'
  readonly pid: number

  constructor(dataDir: string, pid: number) {
    super(
      `a node is already running from ${dataDir} (pid ${pid})`,
      `stop it with \`${BIN_NAME} node stop --data-dir ${dataDir}\`, or give this one its own \`--data-dir\``,
    )
    this.pid = pid
  }
}

/** The node did not start (it exited, reported an error, or was not ready in time). */
export class NodeStartError extends CliError {
  static readonly code = 'ERR_NODE_START'
  readonly code = NodeStartError.code
  override readonly name = 'NodeStartError'
}

/** The node did not stop in time. */
export class NodeStopError extends CliError {
  static readonly code = 'ERR_NODE_STOP'
  readonly code = NodeStopError.code
  override readonly name = 'NodeStopError'
}

/** A task ended FAILED, TIMEOUT or CANCELLED. `taskCode` is the task's own error code. */
export class TaskFailedError extends CliError {
  static readonly code = 'ERR_TASK_FAILED'
  readonly code = TaskFailedError.code
  override readonly name = 'TaskFailedError'
  readonly taskCode: string | undefined

  constructor(message: string, taskCode?: string, hint?: string) {
    super(message, hint)
    this.taskCode = taskCode
  }
}

/**
 * A job ended without every item done: some items failed, or the job failed, was cancelled, or
 * was interrupted by its node stopping. `jobCode` is the job's own error code, if it has one.
 */
export class JobFailedError extends CliError {
  static readonly code = 'ERR_JOB_FAILED'
  readonly code = JobFailedError.code
  override readonly name = 'JobFailedError'
  readonly jobCode: string | undefined

  constructor(message: string, jobCode?: string, hint?: string) {
    super(message, hint)
    this.jobCode = jobCode
  }
}

/**
 * The control API answered with an error (`{ error: { code, message } }`). `code` is the API's
 * code (`ERR_TASK_NOT_FOUND`, `ERR_UNSUPPORTED_TASK_TYPE`...), `status` the HTTP status.
 */
export class ControlApiError extends CliError {
  static readonly code = 'ERR_CONTROL_API'
  readonly code: string
  override readonly name = 'ControlApiError'
  readonly status: number

  constructor(status: number, code: string, message: string, hint?: string) {
    super(message, hint)
    this.status = status
    this.code = code
  }

  /** The table's, for a known code; otherwise 2 for a request the node found wrong. */
  override get exitCode(): number {
    return (
      policyOf(this.code)?.exit ?? (this.status === 400 || this.status === 422 ? EXIT.USAGE : EXIT.FAILURE)
    )
  }
}

/** The control API could not be reached or answered something that is not its protocol. */
export class ControlConnectionError extends CliError {
  static readonly code = 'ERR_CONTROL_CONNECTION'
  readonly code = ControlConnectionError.code
  override readonly name = 'ControlConnectionError'
}

/** A download needs the network and the network is not there. */
export class OfflineError extends CliError {
  static readonly code = 'ERR_OFFLINE'
  readonly code = OfflineError.code
  override readonly name = 'OfflineError'
}

/** A file the user named cannot be read or written. */
export class FileError extends CliError {
  static readonly code = 'ERR_FILE'
  readonly code = FileError.code
  override readonly name = 'FileError'
}

/** `task result` of a task that has not finished yet. */
export class TaskNotFinishedError extends CliError {
  static readonly code = 'ERR_TASK_NOT_FINISHED'
  readonly code = TaskNotFinishedError.code
  override readonly name = 'TaskNotFinishedError'
}

/** No demo network runs in the demo directory. */
export class DemoNotRunningError extends CliError {
  static readonly code = 'ERR_DEMO_NOT_RUNNING'
  readonly code = DemoNotRunningError.code
  override readonly name = 'DemoNotRunningError'

  constructor(dir: string) {
    super(`no demo is running in ${dir}`)
  }
}

/**
 * An error another process of the CLI worked out and passed on (a node started with `--detach`
 * reports why it could not start): its code, exit code and hint as that process decided them.
 */
export class RelayedError extends CliError {
  readonly code: string
  override readonly name = 'RelayedError'
  readonly #exitCode: number

  constructor(error: CliErrorLike) {
    super(error.message, error.hint)
    this.code = error.code
    this.#exitCode = error.exitCode
  }

  override get exitCode(): number {
    return this.#exitCode
  }
}

/** A step of the demo did not happen in the time it has (the mesh, the tasks). */
export class DemoStepTimeoutError extends CliError {
  static readonly code = 'ERR_DEMO_TIMEOUT'
  readonly code = DemoStepTimeoutError.code
  override readonly name = 'DemoStepTimeoutError'
}
