/** A bad command-line option: exit 2 with the message and a hint. */
export class UsageError extends Error {
  static readonly code = 'ERR_USAGE'
  readonly code = UsageError.code
  override readonly name = 'UsageError'
}

/** An agent process did not start (it exited, or did not report ready in time). */
export class AgentStartError extends Error {
  static readonly code = 'ERR_AGENT_START'
  readonly code = AgentStartError.code
  override readonly name = 'AgentStartError'
}

/** A step did not finish in the time it has. */
export class StepTimeoutError extends Error {
  static readonly code = 'ERR_STEP_TIMEOUT'
  readonly code = StepTimeoutError.code
  override readonly name = 'StepTimeoutError'
}
