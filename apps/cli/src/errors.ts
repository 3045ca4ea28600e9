import { BIN_NAME, EXIT } from './constants.js'

/**
 * Errors of the CLI. Each carries a stable `code`, the process exit code it maps to and, where
 * there is one, a `hint`: the next thing to try, printed under the message.
 */
export interface CliErrorLike {
  readonly code: string
  readonly message: string
  readonly exitCode: number
  readonly hint?: string | undefined
}

/** An error with an optional hint: the next thing to try, printed under the message. */
class HintedError extends Error {
  readonly hint: string | undefined

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options)
    this.hint = hint
  }
}

/** The command line is wrong: an unknown command or option, a bad value, a missing argument. */
export class UsageError extends HintedError {
  static readonly code = 'ERR_USAGE'
  readonly code = UsageError.code
  override readonly name = 'UsageError'
  readonly exitCode = EXIT.USAGE
}

/** The node's configuration (file, environment or flags) does not validate. */
export class ConfigError extends HintedError {
  static readonly code = 'ERR_CONFIG'
  readonly code = ConfigError.code
  override readonly name = 'ConfigError'
  readonly exitCode = EXIT.USAGE
}

/** No node runs for the data directory (no control file, a dead pid, or nobody answers). */
export class NodeNotRunningError extends Error {
  static readonly code = 'ERR_NODE_NOT_RUNNING'
  readonly code = NodeNotRunningError.code
  override readonly name = 'NodeNotRunningError'
  readonly exitCode = EXIT.NOT_RUNNING
  readonly hint: string
  readonly dataDir: string

  constructor(dataDir: string, detail = '') {
    super(`no node is running on this machine for data directory ${dataDir}${detail}`)
    this.dataDir = dataDir
    this.hint = `start one with \`${BIN_NAME} node start\` (or \`${BIN_NAME} node start --detach\` to run it in the background)`
  }
}

/** A node already runs from this data directory. */
export class NodeAlreadyRunningError extends Error {
  static readonly code = 'ERR_NODE_ALREADY_RUNNING'
  readonly code = NodeAlreadyRunningError.code
  override readonly name = 'NodeAlreadyRunningError'
  readonly exitCode = EXIT.FAILURE
  readonly hint: string
  readonly pid: number

  constructor(dataDir: string, pid: number) {
    super(`a node is already running from ${dataDir} (pid ${pid})`)
    this.pid = pid
    this.hint = `stop it with \`${BIN_NAME} node stop\`, or give this one its own \`--data-dir\``
  }
}

/** The node did not start (it exited, reported an error, or was not ready in time). */
export class NodeStartError extends HintedError {
  static readonly code = 'ERR_NODE_START'
  readonly code = NodeStartError.code
  override readonly name = 'NodeStartError'
  readonly exitCode = EXIT.FAILURE
}

/** The node did not stop in time. */
export class NodeStopError extends HintedError {
  static readonly code = 'ERR_NODE_STOP'
  readonly code = NodeStopError.code
  override readonly name = 'NodeStopError'
  readonly exitCode = EXIT.FAILURE
}

/** A task ended FAILED, TIMEOUT or CANCELLED. `taskCode` is the task's own error code. */
export class TaskFailedError extends Error {
  static readonly code = 'ERR_TASK_FAILED'
  readonly code = TaskFailedError.code
  override readonly name = 'TaskFailedError'
  readonly exitCode = EXIT.TASK_FAILED
  readonly hint: string | undefined
  readonly taskCode: string | undefined

  constructor(message: string, taskCode?: string, hint?: string) {
    super(message)
    this.taskCode = taskCode
    this.hint = hint
  }
}

/**
 * The control API answered with an error (`{ error: { code, message } }`). `code` is the API's
 * code (`ERR_TASK_NOT_FOUND`, `ERR_UNSUPPORTED_TASK_TYPE`...), `status` the HTTP status.
 */
export class ControlApiError extends Error {
  static readonly code = 'ERR_CONTROL_API'
  readonly code: string
  override readonly name = 'ControlApiError'
  readonly status: number
  readonly exitCode: number
  readonly hint: string | undefined

  constructor(status: number, code: string, message: string, hint?: string) {
    super(message)
    this.status = status
    this.code = code
    this.hint = hint
    this.exitCode = status === 400 || status === 422 ? EXIT.USAGE : EXIT.FAILURE
  }
}

/** The control API could not be reached or answered something that is not its protocol. */
export class ControlConnectionError extends HintedError {
  static readonly code = 'ERR_CONTROL_CONNECTION'
  readonly code = ControlConnectionError.code
  override readonly name = 'ControlConnectionError'
  readonly exitCode = EXIT.FAILURE
}

/** A download needs the network and the network is not there. */
export class OfflineError extends HintedError {
  static readonly code = 'ERR_OFFLINE'
  readonly code = OfflineError.code
  override readonly name = 'OfflineError'
  readonly exitCode = EXIT.FAILURE
}

/** A file the user named cannot be read or written. */
export class FileError extends HintedError {
  static readonly code = 'ERR_FILE'
  readonly code = FileError.code
  override readonly name = 'FileError'
  readonly exitCode = EXIT.FAILURE
}

/** Whether `err` is one of the errors above (a user-facing error with an exit code). */
export function isCliError(err: unknown): err is Error & CliErrorLike {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { exitCode?: unknown }).exitCode === 'number'
  )
}

/** `task result` of a task that has not finished yet. */
export class TaskNotFinishedError extends HintedError {
  static readonly code = 'ERR_TASK_NOT_FINISHED'
  readonly code = TaskNotFinishedError.code
  override readonly name = 'TaskNotFinishedError'
  readonly exitCode = EXIT.FAILURE
}

/** No demo network runs in the demo directory. */
export class DemoNotRunningError extends Error {
  static readonly code = 'ERR_DEMO_NOT_RUNNING'
  readonly code = DemoNotRunningError.code
  override readonly name = 'DemoNotRunningError'
  readonly exitCode = EXIT.NOT_RUNNING
  readonly hint: string

  constructor(dir: string) {
    super(`no demo is running in ${dir}`)
    this.hint = `start one with \`${BIN_NAME} demo start --nodes 3\``
  }
}
