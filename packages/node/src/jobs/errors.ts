/** Errors of `node.jobs`: each with a stable `code`, matched by callers (and hinted by the CLI). */

/** A job submission or option is malformed (unknown order, split without a file, bad id...). */
export class InvalidJobError extends Error {
  static readonly code = 'ERR_INVALID_JOB'
  readonly code = InvalidJobError.code
  override readonly name = 'InvalidJobError'
}

/** No job with this id (unknown, or expired). */
export class JobNotFoundError extends Error {
  static readonly code = 'ERR_JOB_NOT_FOUND'
  readonly code = JobNotFoundError.code
  override readonly name = 'JobNotFoundError'
}

/** The job's input file cannot be read (missing, a directory, no permission). */
export class JobInputError extends Error {
  static readonly code = 'ERR_JOB_INPUT'
  readonly code = JobInputError.code
  override readonly name = 'JobInputError'
}

/**
 * The input file changed since the job started (its size or modification time): resuming would
 * pair results with the wrong items.
 */
export class JobInputChangedError extends Error {
  static readonly code = 'ERR_JOB_INPUT_CHANGED'
  readonly code = JobInputChangedError.code
  override readonly name = 'JobInputChangedError'
}

/**
 * The output file cannot be written: no permission, no space, it exists already (without
 * `overwrite`), or it is shorter than what the job wrote before (changed by someone else).
 */
export class JobOutputError extends Error {
  static readonly code = 'ERR_JOB_OUTPUT'
  readonly code = JobOutputError.code
  override readonly name = 'JobOutputError'
}

/** The job cannot be resumed: it completed, or it is running already, or its items came from code. */
export class JobNotResumableError extends Error {
  static readonly code = 'ERR_JOB_NOT_RESUMABLE'
  readonly code = JobNotResumableError.code
  override readonly name = 'JobNotResumableError'
}

/** A job with `failFast` stopped at the first item that failed; the message names it. */
export class JobItemFailedError extends Error {
  static readonly code = 'ERR_JOB_ITEM_FAILED'
  readonly code = JobItemFailedError.code
  override readonly name = 'JobItemFailedError'
}

/** The job store cannot be opened (the node does not start) or written (the job fails; the node runs on). */
export class JobStoreError extends Error {
  static readonly code = 'ERR_JOB_STORE'
  readonly code = JobStoreError.code
  override readonly name = 'JobStoreError'
}
