/**
 * Hand-written checks of the messages every task exchanges (a request, its accept, its result, a
 * cancel or progress, and the envelope around the signed ones), for the common case where they
 * are well-formed. Each check accepts only values its zod schema accepts, and never says why a
 * value fails: a value it does not accept goes on to the schema, which decides, and names the
 * field and the reason exactly as before. So errors are unchanged; only the well-formed majority
 * skips the schema, which costs several times more (it is the largest share of a message's
 * checks after the signature).
 *
 * Anything rare (a trace state, a checkpoint, content by CID, a resume) is left to the schema
 * too: these checks stay small enough to see at a glance that they are no looser than schemas.ts.
 * A test feeds both the same thousands of mutated messages and holds them to that.
 */
import { isPlainObject } from './canonical-json.js'
import {
  MAX_BATCH_PATH,
  MAX_BATCH_SIZE,
  MAX_DELTA_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_PRIORITY,
  MAX_QUEUE_LENGTH,
  MAX_REASON_LENGTH,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
  PROTOCOL_MAJOR,
} from './constants.js'
import {
  DIGEST_PATTERN,
  ERROR_CODE_PATTERN,
  NONCE_PATTERN,
  PEER_ID_PATTERN,
  SIGNATURE_PATTERN,
  TASK_ID_PATTERN,
  TASK_TYPE_PATTERN,
  TRACEPARENT_PATTERN,
} from './schemas.js'

type Check = (value: unknown) => boolean
type Fields = Readonly<Record<string, Check>>

const { MAX_SAFE_INTEGER } = Number
const own = Object.hasOwn

const str = (value: unknown): value is string => typeof value === 'string'
const matches =
  (pattern: RegExp): Check =>
  (value) =>
    str(value) && pattern.test(value)
const int =
  (min: number, max: number): Check =>
  (value) =>
    Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
/** A finite number in [min, max] (NaN and infinities fail the comparisons). */
const num =
  (min: number, max: number): Check =>
  (value) =>
    typeof value === 'number' && value >= min && value <= max
const text =
  (min: number, max: number): Check =>
  (value) =>
    str(value) && value.length >= min && value.length <= max

const taskId = matches(TASK_ID_PATTERN)
const peerId = matches(PEER_ID_PATTERN)
const timestamp = int(0, MAX_SAFE_INTEGER)
const duration = num(0, MAX_SAFE_INTEGER)

/**
 * A plain object whose members are all in `fields` and pass their check, with every member of
 * `required` present. Members that may be absent are left out of `required`; present, they must
 * pass (an `undefined` never does, as `exactOptional` wants).
 */
function object(value: unknown, fields: Fields, required: readonly string[]): boolean {
  if (!isPlainObject(value)) return false
  for (const key of required) if (!own(value, key)) return false
  for (const key in value) {
    const check = own(fields, key) ? fields[key] : undefined
    if (check === undefined || !check(value[key])) return false
  }
  return true
}

const traceContext: Check = (value) =>
  object(value, { traceparent: matches(TRACEPARENT_PATTERN) }, ['traceparent'])

const requestFields: Fields = {
  id: taskId,
  taskType: (value) => str(value) && value.length <= 64 && TASK_TYPE_PATTERN.test(value),
  input: isPlainObject,
  priority: int(MIN_PRIORITY, MAX_PRIORITY),
  timeoutMs: int(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS),
  createdAt: timestamp,
  requester: peerId,
  trace: traceContext,
}
const REQUEST_REQUIRED = ['id', 'taskType', 'input', 'priority', 'timeoutMs', 'createdAt', 'requester']

const timings: Check = (value) =>
  object(value, { queuedMs: duration, runMs: duration, totalMs: duration }, ['queuedMs', 'runMs', 'totalMs'])

const completedFields: Fields = {
  id: taskId,
  requestHash: matches(DIGEST_PATTERN),
  timings,
  status: (value) => value === 'completed',
  output: (value) => value !== undefined,
}
const COMPLETED_REQUIRED = ['id', 'requestHash', 'timings', 'status', 'output']

const wireError: Check = (value) =>
  object(value, { code: matches(ERROR_CODE_PATTERN), message: text(0, MAX_ERROR_MESSAGE_LENGTH) }, [
    'code',
    'message',
  ])

const unfinishedFields: Fields = {
  id: taskId,
  requestHash: matches(DIGEST_PATTERN),
  timings,
  status: (value) => value === 'failed' || value === 'timeout' || value === 'cancelled',
  error: wireError,
}
const UNFINISHED_REQUIRED = ['id', 'requestHash', 'timings', 'status', 'error']

/** Checks by message type, for the payloads that have one. */
const payloadChecks: ReadonlyMap<string, Check> = new Map<string, Check>(
  Object.entries({
    'task.request': (value) => object(value, requestFields, REQUEST_REQUIRED),
    'task.accept': (value) => object(value, { id: taskId, queuePosition: int(0, MAX_QUEUE_LENGTH) }, ['id']),
    'task.progress': (value) =>
      object(
        value,
        {
          id: taskId,
          progress: num(0, 1),
          message: text(0, MAX_REASON_LENGTH),
          delta: text(1, MAX_DELTA_LENGTH),
        },
        ['id', 'progress'],
      ),
    'task.result': (value) =>
      (value as { status?: unknown } | null)?.status === 'completed'
        ? object(value, completedFields, COMPLETED_REQUIRED)
        : object(value, unfinishedFields, UNFINISHED_REQUIRED),
    'task.cancel': (value) => object(value, { id: taskId, reason: text(0, MAX_REASON_LENGTH) }, ['id']),
  } satisfies Record<string, Check>),
)

/**
 * True if `value` is a payload of `type` its schema accepts; false means "ask the schema", not
 * "invalid" (and is all there is for the types not checked here).
 */
export function isWellFormedPayload(type: string, value: unknown): boolean {
  return payloadChecks.get(type)?.(value) === true
}

/** 1 to MAX_BATCH_PATH digests (a loop, not `every`, which would skip the holes of a sparse array). */
const digests: Check = (value) => {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_BATCH_PATH) return false
  for (let i = 0; i < value.length; i++) {
    const node: unknown = value[i]
    if (!str(node) || !DIGEST_PATTERN.test(node)) return false
  }
  return true
}

const batchProof: Check = (value) =>
  object(
    value,
    {
      size: int(2, MAX_BATCH_SIZE),
      index: int(0, MAX_BATCH_SIZE - 1),
      path: digests,
      sig: matches(SIGNATURE_PATTERN),
    },
    ['size', 'index', 'path', 'sig'],
  )

const envelopeFields: Fields = {
  v: (value) => value === PROTOCOL_MAJOR,
  type: str,
  from: peerId,
  ts: timestamp,
  nonce: matches(NONCE_PATTERN),
  // Checked below, by the schema of its type.
  payload: () => true,
  sig: matches(SIGNATURE_PATTERN),
  batch: batchProof,
}
const ENVELOPE_REQUIRED = ['v', 'type', 'from', 'ts', 'nonce', 'payload']

/**
 * True if `value` is a signed envelope its schema accepts, with a payload of a type checked here;
 * false means "ask the schema", not "invalid".
 */
export function isWellFormedEnvelope(value: unknown): boolean {
  if (!object(value, envelopeFields, ENVELOPE_REQUIRED)) return false
  const v = value as { type: string; payload: unknown; sig?: unknown; batch?: unknown }
  // Exactly one of a signature of its own and a batch's.
  if (own(v, 'sig') === own(v, 'batch')) return false
  return isWellFormedPayload(v.type, v.payload)
}
