/**
 * OpenAI's error objects (`{ error: { message, type, param, code } }`) and the one table that maps
 * this node's failures onto them, so an OpenAI client raises the error class it would raise
 * against OpenAI (`NotFoundError` for an unknown model, `BadRequestError`...).
 */

/** OpenAI's `error.type`. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'timeout_error'

/** A failure answered as OpenAI answers it: an HTTP status and an error object. */
export class OpenAIError extends Error {
  readonly status: number
  readonly type: OpenAIErrorType
  /** OpenAI's `error.code`, e.g. `model_not_found`, or this node's own `ERR_…` code. */
  readonly code: string | null
  /** The request field at fault, e.g. `messages[0].role`. */
  readonly param: string | null

  constructor(
    status: number,
    type: OpenAIErrorType,
    message: string,
    options: { code?: string | null; param?: string | null } = {},
  ) {
    super(message)
    this.status = status
    this.type = type
    this.code = options.code ?? null
    this.param = options.param ?? null
  }

  /** The JSON body OpenAI sends. */
  body(): { error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export function invalidRequest(message: string, param?: string, code?: string): OpenAIError {
  return new OpenAIError(400, 'invalid_request_error', message, { param: param ?? null, code: code ?? null })
}

export function modelNotFound(model: string, taskType: string): OpenAIError {
  return new OpenAIError(
    404,
    'invalid_request_error',
    `The model \`${model}\` does not exist: no node of this swarm serves it for ${taskType} (GET /models lists those that do)`,
    { param: 'model', code: 'model_not_found' },
  )
}

/** How each task error code (docs/protocol.md §6.2) is answered; anything else is a 500. */
const BY_CODE: Readonly<Record<string, readonly [number, OpenAIErrorType, string]>> = {
  ERR_INVALID_INPUT: [400, 'invalid_request_error', 'invalid_request'],
  ERR_INVALID_TASK: [400, 'invalid_request_error', 'invalid_request'],
  ERR_NONDETERMINISTIC_TASK: [400, 'invalid_request_error', 'invalid_request'],
  ERR_UNKNOWN_MODEL: [404, 'invalid_request_error', 'model_not_found'],
  ERR_UNSUPPORTED_TASK: [404, 'invalid_request_error', 'model_not_found'],
  ERR_NO_CAPABLE_PEER: [503, 'server_error', 'no_capable_peer'],
  ERR_BUSY: [429, 'rate_limit_error', 'busy'],
  ERR_RETRIES_EXHAUSTED: [503, 'server_error', 'retries_exhausted'],
  ERR_ACCESS_DENIED: [403, 'permission_error', 'access_denied'],
  ERR_TIMEOUT: [504, 'timeout_error', 'timeout'],
  ERR_RESULT_TIMEOUT: [504, 'timeout_error', 'timeout'],
  ERR_SHUTTING_DOWN: [503, 'server_error', 'shutting_down'],
  ERR_EXCHANGE_STOPPED: [503, 'server_error', 'shutting_down'],
}

/**
 * A task that failed (a `TaskFailedError`, or anything with a `code`) as OpenAI's error. A prompt
 * longer than the model's context is OpenAI's `context_length_exceeded`: the provider's engine code
 * travels at the front of the message (`ERR_CONTEXT_LENGTH_EXCEEDED: …`).
 */
export function fromFailure(err: unknown): OpenAIError {
  if (err instanceof OpenAIError) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = String((err as { message?: unknown } | null)?.message ?? err)
  if (message.startsWith('ERR_CONTEXT_LENGTH_EXCEEDED')) {
    return new OpenAIError(400, 'invalid_request_error', message, {
      param: 'messages',
      code: 'context_length_exceeded',
    })
  }
  const known = typeof code === 'string' ? BY_CODE[code] : undefined
  if (known === undefined) {
    return new OpenAIError(500, 'server_error', message, { code: typeof code === 'string' ? code : null })
  }
  const [status, type, openaiCode] = known
  return new OpenAIError(status, type, message, { code: openaiCode })
}
