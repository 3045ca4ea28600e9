/** One problem with a task's input, as reported by its task type's schema. */
export interface InputIssue {
  /** Dotted field path, e.g. `options.size` or `items[2].text`; empty for the input itself. */
  readonly path: string
  readonly message: string
}

/** No registered backend runs this task type. */
export class UnsupportedTaskTypeError extends Error {
  static readonly code = 'ERR_UNSUPPORTED_TASK_TYPE'
  readonly code = UnsupportedTaskTypeError.code
  override readonly name = 'UnsupportedTaskTypeError'
}

/** The task's input does not match its task type's schema; `issues` names each failing field. */
export class InvalidInputError extends Error {
  static readonly code = 'ERR_INVALID_INPUT'
  readonly code = InvalidInputError.code
  override readonly name = 'InvalidInputError'
  readonly issues: readonly InputIssue[]

  constructor(message: string, issues: readonly InputIssue[] = []) {
    super(message)
    this.issues = issues
  }
}

/** The request around the input is malformed: bad id, priority, timeout or meta. */
export class InvalidRequestError extends Error {
  static readonly code = 'ERR_INVALID_REQUEST'
  readonly code = InvalidRequestError.code
  override readonly name = 'InvalidRequestError'
}

/** The queue holds `maxQueueLength` tasks already; retry later or elsewhere. */
export class QueueFullError extends Error {
  static readonly code = 'ERR_QUEUE_FULL'
  readonly code = QueueFullError.code
  override readonly name = 'QueueFullError'
}

/** The task ran longer than its timeout and was stopped. */
export class TaskTimeoutError extends Error {
  static readonly code = 'ERR_TASK_TIMEOUT'
  readonly code = TaskTimeoutError.code
  override readonly name = 'TaskTimeoutError'
}

/** The task was cancelled before it finished. */
export class TaskCancelledError extends Error {
  static readonly code = 'ERR_TASK_CANCELLED'
  readonly code = TaskCancelledError.code
  override readonly name = 'TaskCancelledError'
}

/** No task with this id is known (never submitted, or its result expired). */
export class TaskNotFoundError extends Error {
  static readonly code = 'ERR_TASK_NOT_FOUND'
  readonly code = TaskNotFoundError.code
  override readonly name = 'TaskNotFoundError'
}

/** A task with this id exists but has a different task type, so it is not a retry of the same task. */
export class TaskIdConflictError extends Error {
  static readonly code = 'ERR_TASK_ID_CONFLICT'
  readonly code = TaskIdConflictError.code
  override readonly name = 'TaskIdConflictError'
}

/** A backend failed with an error that carried no code of its own; the message is the backend's. */
export class BackendFailedError extends Error {
  static readonly code = 'ERR_BACKEND_FAILED'
  readonly code = BackendFailedError.code
  override readonly name = 'BackendFailedError'
}

/** The worker thread running the task exited or crashed; the pool replaces it. */
export class WorkerCrashedError extends Error {
  static readonly code = 'ERR_WORKER_CRASHED'
  readonly code = WorkerCrashedError.code
  override readonly name = 'WorkerCrashedError'
}

/** The engine is stopping or stopped and accepts no more work. */
export class EngineStoppedError extends Error {
  static readonly code = 'ERR_ENGINE_STOPPED'
  readonly code = EngineStoppedError.code
  override readonly name = 'EngineStoppedError'
}

/** The engine's init has an invalid value. */
export class InvalidConfigError extends Error {
  static readonly code = 'ERR_INVALID_CONFIG'
  readonly code = InvalidConfigError.code
  override readonly name = 'InvalidConfigError'
}

/** A backend does not satisfy the `Backend` contract (bad name, no task types, no schema...). */
export class InvalidBackendError extends Error {
  static readonly code = 'ERR_INVALID_BACKEND'
  readonly code = InvalidBackendError.code
  override readonly name = 'InvalidBackendError'
}

/** A backend with this name, or another backend serving one of its task types, is registered. */
export class BackendConflictError extends Error {
  static readonly code = 'ERR_BACKEND_CONFLICT'
  readonly code = BackendConflictError.code
  override readonly name = 'BackendConflictError'
}

/** No backend with this name is registered. */
export class BackendNotFoundError extends Error {
  static readonly code = 'ERR_BACKEND_NOT_FOUND'
  readonly code = BackendNotFoundError.code
  override readonly name = 'BackendNotFoundError'
}

/** The `mock` backend's seeded failure: deterministic, for tests and demos. */
export class MockFailureError extends Error {
  static readonly code = 'ERR_MOCK_FAILURE'
  readonly code = MockFailureError.code
  override readonly name = 'MockFailureError'
}

/**
 * The result store's file is not a valid SQLite database, or SQLite found it damaged. `path` names
 * the file. Way out: stop the node, move the file (and its `-wal`/`-shm` companions) aside, and
 * start again with an empty store, or open the store with `onCorrupt: 'move-aside'`.
 */
export class StoreCorruptError extends Error {
  static readonly code = 'ERR_STORE_CORRUPT'
  readonly code = StoreCorruptError.code
  override readonly name = 'StoreCorruptError'
  readonly path: string

  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/** The store file belongs to another application or to a newer version of this engine. */
export class StoreIncompatibleError extends Error {
  static readonly code = 'ERR_STORE_INCOMPATIBLE'
  readonly code = StoreIncompatibleError.code
  override readonly name = 'StoreIncompatibleError'
}

/** The store was used after `close()`. */
export class StoreClosedError extends Error {
  static readonly code = 'ERR_STORE_CLOSED'
  readonly code = StoreClosedError.code
  override readonly name = 'StoreClosedError'
}

/** SQLite failed for another reason (disk full, permissions, I/O error); `cause` has the details. */
export class StoreError extends Error {
  static readonly code = 'ERR_STORE_FAILED'
  readonly code = StoreError.code
  override readonly name = 'StoreError'
}

/** No model with this name is registered, or its files are missing from disk. */
export class ModelNotFoundError extends Error {
  static readonly code = 'ERR_MODEL_NOT_FOUND'
  readonly code = ModelNotFoundError.code
  override readonly name = 'ModelNotFoundError'
}

/**
 * A model's files cannot be trusted or used: the sha256 differs from the one registered or
 * recorded when it was pulled, or the plug-in serving it cannot parse it (an ONNX graph, a
 * `tokenizer.json`, a GGUF header).
 */
export class ModelCorruptError extends Error {
  static readonly code = 'ERR_MODEL_CORRUPT'
  readonly code = ModelCorruptError.code
  override readonly name = 'ModelCorruptError'
}

/**
 * A model (with what it needs to run) does not fit the engine's memory budget even with every
 * other model unloaded, or the machine has not that much memory free. `requiredBytes` is the
 * backend's estimate; `budgetBytes` the budget it was refused under. Another provider may have
 * room: the network tries one.
 */
export class ModelTooLargeError extends Error {
  static readonly code = 'ERR_MODEL_TOO_LARGE'
  readonly code = ModelTooLargeError.code
  override readonly name = 'ModelTooLargeError'
  readonly requiredBytes: number
  readonly budgetBytes: number

  constructor(message: string, requiredBytes: number, budgetBytes: number, options?: ErrorOptions) {
    super(message, options)
    this.requiredBytes = requiredBytes
    this.budgetBytes = budgetBytes
  }
}

/** A registry entry or `pullModel` argument is malformed (bad name, relative path, bad sha256...). */
export class InvalidModelEntryError extends Error {
  static readonly code = 'ERR_INVALID_MODEL_ENTRY'
  readonly code = InvalidModelEntryError.code
  override readonly name = 'InvalidModelEntryError'
}

/** Why a download failed; stable values callers may switch on. */
export type DownloadFailureReason =
  /** The host name did not resolve (offline, or no such host). */
  | 'dns'
  /** Nothing listens at the endpoint. */
  | 'connection-refused'
  /** The connection was reset, or another socket-level error. */
  | 'network'
  /** No bytes arrived for the stall timeout. */
  | 'timeout'
  /** The server answered with a non-2xx status; see `status`. */
  | 'http-status'
  /** The bytes received do not match the sha256 the server announced. */
  | 'integrity'
  /** Too many redirects, or a redirect without a usable `Location`. */
  | 'redirect'
  /** The download could not be written to disk. */
  | 'filesystem'
  /** Another process is downloading the same file into the same place. */
  | 'busy'
  /** The server's answer could not be used (a listing that is not JSON, say). */
  | 'bad-response'

/** A model download failed; `reason` says why and `status` holds the HTTP status if there was one. */
export class ModelDownloadFailedError extends Error {
  static readonly code = 'ERR_MODEL_DOWNLOAD_FAILED'
  readonly code = ModelDownloadFailedError.code
  override readonly name = 'ModelDownloadFailedError'
  readonly reason: DownloadFailureReason
  readonly url: string
  readonly status?: number

  constructor(
    message: string,
    details: { reason: DownloadFailureReason; url: string; status?: number },
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.reason = details.reason
    this.url = details.url
    if (details.status !== undefined) this.status = details.status
  }
}

/**
 * An error that crossed a thread boundary or came out of the store: only its `code`, `name` and
 * `message` survive, exactly what crosses the wire. `code` is the original error's code.
 */
export class RemoteTaskError extends Error {
  readonly code: string
  override readonly name: string

  constructor(code: string, message: string, name = 'RemoteTaskError') {
    super(message)
    this.code = code
    this.name = name
  }
}
