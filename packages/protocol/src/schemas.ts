/**
 * Schemas of every message. Objects are strict (unknown fields are errors) because a signed
 * message whose extra fields a receiver silently dropped could carry meaning the sender relied
 * on; minor versions add fields only towards peers that announced them (see docs/protocol.md).
 * No schema transforms or defaults: what validates is exactly what was signed.
 */
import { z } from 'zod'
import { canonicalize, isPlainObject, type JsonObject, type JsonValue } from './canonical-json.js'
import {
  CONTENT_CID_PATTERN,
  MAX_BATCH_PATH,
  MAX_BATCH_SIZE,
  MAX_CHECKPOINT_BYTES,
  MAX_CONCURRENCY,
  MAX_CONTEXT_LENGTH,
  MAX_DELTA_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FORWARD_HOPS,
  MAX_MODEL_FAMILY_LENGTH,
  MAX_MODELS,
  MAX_PRIORITY,
  MAX_QUEUE_LENGTH,
  MAX_REASON_LENGTH,
  MAX_SPAN_ATTRIBUTES,
  MAX_TASK_TYPES,
  MAX_TIMEOUT_MS,
  MAX_TRACE_SPANS,
  MAX_TRACESTATE_LENGTH,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
  PROTOCOL_MAJOR,
} from './constants.js'

// ---- building blocks ------------------------------------------------------------------------

/**
 * Canonical unpadded base64url of exactly `bytes` bytes: the last character may only carry
 * data bits, so there is one spelling per byte string and nothing to normalise before verifying.
 */
function base64urlPattern(bytes: number): RegExp {
  const chars = Math.ceil((bytes * 8) / 6)
  const spareBits = chars * 6 - bytes * 8
  const lastChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    .split('')
    .filter((_, index) => index % (1 << spareBits) === 0)
    .join('')
    .replace('-', '\\-')
  return new RegExp(`^[A-Za-z0-9_-]{${chars - 1}}[${lastChars}]$`)
}

function base64url(pattern: RegExp, bytes: number, what: string): z.ZodString {
  return z.string().regex(pattern, `expected ${what}: ${bytes} bytes as unpadded base64url`)
}

// The patterns on their own too, for the hand-written checks of the hot messages (shape-checks.ts).
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/
export const TASK_TYPE_PATTERN = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
export const PEER_ID_PATTERN = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/
export const ERROR_CODE_PATTERN = /^ERR_[A-Z0-9_]{1,60}$/
export const TRACEPARENT_PATTERN = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/
export const NONCE_PATTERN = base64urlPattern(16)
export const SIGNATURE_PATTERN = base64urlPattern(64)
export const DIGEST_PATTERN = base64urlPattern(32)

/** Requester-chosen task id: a UUID, ULID or similar, 8 to 64 URL-safe characters. */
export const taskIdSchema = z
  .string()
  .regex(TASK_ID_PATTERN, 'expected a task id: 8 to 64 characters from A-Z a-z 0-9 _ -')

/** Task type such as `embed`, `chunk`, `ocr` or `onnx.run`. */
export const taskTypeSchema = z
  .string()
  .max(64)
  .regex(
    TASK_TYPE_PATTERN,
    'expected a task type: lowercase words joined by "." or "-", like "embed" or "onnx.run"',
  )

/** An Ed25519 libp2p PeerId (identity multihash, base58btc): always 52 characters, `12D3KooW…`. */
export const peerIdSchema = z
  .string()
  .regex(PEER_ID_PATTERN, 'expected an Ed25519 PeerId (12D3KooW…, 52 characters)')

/** Milliseconds since the Unix epoch. */
export const timestampSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

const duration = z.number().min(0).max(Number.MAX_SAFE_INTEGER)
const count = (max: number) => z.number().int().min(0).max(max)

export const nonceSchema = base64url(NONCE_PATTERN, 16, 'a nonce')
export const signatureSchema = base64url(SIGNATURE_PATTERN, 64, 'an Ed25519 signature')
/** SHA-256 digest of a request's signing input, as carried by results. */
export const digestSchema = base64url(DIGEST_PATTERN, 32, 'a SHA-256 digest')

/** A CID as content references carry it (minor 5): see {@link CONTENT_CID_PATTERN}. */
export const cidSchema = z
  .string()
  .regex(
    CONTENT_CID_PATTERN,
    'expected a CIDv1 (dag-pb or raw, SHA-256) in base32, like "bafybei…" or "bafkrei…"',
  )

/** Content by CID (minor 5, docs/protocol.md §2.9): the UnixFS file `cid` of `size` bytes. */
export const contentRefSchema = z.strictObject({
  cid: cidSchema,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
})

/** A `{ code, message }` error as it crosses the wire. */
export const wireErrorSchema = z.strictObject({
  code: z.string().regex(ERROR_CODE_PATTERN, 'expected an error code like ERR_SOME_THING'),
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
})

// Deep checks (finite numbers, valid Unicode, depth) happen once, in canonicalize, which every
// sealed or opened message goes through; here only the shape of the top is checked.
const jsonObject = z.custom<JsonObject>(isPlainObject, 'expected a JSON object')
const jsonValue = z.custom<JsonValue>((value) => value !== undefined, 'required')

// ---- trace context (minor 3) -----------------------------------------------------------------

/** A W3C trace id: 16 bytes as 32 lowercase hex digits, not all zero. */
export const traceIdSchema = z
  .string()
  .regex(/^(?!0{32})[0-9a-f]{32}$/, 'expected a trace id: 32 lowercase hex digits, not all zero')

/** A W3C span id: 8 bytes as 16 lowercase hex digits, not all zero. */
export const spanIdSchema = z
  .string()
  .regex(/^(?!0{16})[0-9a-f]{16}$/, 'expected a span id: 16 lowercase hex digits, not all zero')

/**
 * A W3C Trace Context `traceparent` of version `00`: version, trace id, parent span id and flags,
 * lowercase, joined by `-`. Other versions are refused: what a field of a signed message means
 * must be known to every receiver.
 */
export const traceparentSchema = z
  .string()
  .regex(
    TRACEPARENT_PATTERN,
    'expected a traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, lowercase, ids not all zero',
  )

const TRACESTATE_KEY = /^(?:[a-z][_0-9a-z*/-]{0,255}|[a-z0-9][_0-9a-z*/-]{0,240}@[a-z][_0-9a-z*/-]{0,13})$/
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

/** Whether `text` is a W3C `tracestate`: 1 to 32 `key=value` list members, keys unique. */
function isTracestate(text: string): boolean {
  const keys = new Set<string>()
  const members = text.split(',')
  if (members.length > 32) return false
  for (const raw of members) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '')
    const eq = member.indexOf('=')
    if (eq <= 0) return false
    const key = member.slice(0, eq)
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(eq + 1)) || keys.has(key))
      return false
    keys.add(key)
  }
  return true
}

/** The W3C trace context of a request (minor 3, docs/protocol.md §2.7): its parent span, and vendor state. */
export const traceContextSchema = z.strictObject({
  traceparent: traceparentSchema,
  tracestate: z
    .string()
    .min(1)
    .max(MAX_TRACESTATE_LENGTH)
    .refine(isTracestate, 'expected a tracestate: 1 to 32 comma-separated key=value members, keys unique')
    .exactOptional(),
})

/**
 * A task's checkpoint (minor 6): any JSON value, opaque to everyone but its task type, at most
 * `MAX_CHECKPOINT_BYTES` of canonical JSON. Measured here, once per message that carries one.
 */
export const checkpointSchema = jsonValue.refine(
  (value) => {
    try {
      return Buffer.byteLength(canonicalize(value)) <= MAX_CHECKPOINT_BYTES
    } catch {
      // Deeper than MAX_JSON_DEPTH, a lone surrogate, a number JSON cannot hold: not a checkpoint.
      return false
    }
  },
  { message: `expected a JSON value of at most ${MAX_CHECKPOINT_BYTES} bytes as canonical JSON` },
)

/**
 * Where a task resumes (minor 6): the last checkpoint of an earlier attempt and how far it had got.
 * Minor 7: a large checkpoint as content by CID (`checkpointRef`) instead of inline.
 */
export const resumeSchema = z
  .strictObject({
    checkpoint: checkpointSchema.exactOptional(),
    checkpointRef: contentRefSchema.exactOptional(),
    progress: z.number().min(0).max(1),
  })
  .check(oneOf('checkpoint', 'checkpointRef'))

// ---- payloads -------------------------------------------------------------------------------

/** Exactly one of two members: inline, or by CID (minor 5). */
function oneOf(inline: string, ref: string) {
  return (ctx: z.core.ParsePayload<Record<string, unknown>>): void => {
    const has = ctx.value[inline] !== undefined
    if (has === (ctx.value[ref] !== undefined)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: [has ? ref : inline],
        message: has ? `expected either \`${inline}\` or \`${ref}\`, not both` : 'required',
      })
    }
  }
}

/** At most one of two members: inline, or by CID (minor 7). */
function atMostOne(inline: string, ref: string) {
  return (ctx: z.core.ParsePayload<Record<string, unknown>>): void => {
    if (ctx.value[inline] !== undefined && ctx.value[ref] !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: [ref],
        message: `expected either \`${inline}\` or \`${ref}\`, not both`,
      })
    }
  }
}

export const taskRequestSchema = z
  .strictObject({
    id: taskIdSchema,
    taskType: taskTypeSchema,
    input: jsonObject.exactOptional(),
    /** Minor 5: the input as content by CID, instead of `input` (docs/protocol.md §2.9). */
    inputRef: contentRefSchema.exactOptional(),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY),
    timeoutMs: z.number().int().min(MIN_TIMEOUT_MS).max(MAX_TIMEOUT_MS),
    createdAt: timestampSchema,
    requester: peerIdSchema,
    trace: traceContextSchema.exactOptional(),
    /** Minor 6: start from this checkpoint of an earlier attempt (docs/protocol.md §2.8). */
    resume: resumeSchema.exactOptional(),
  })
  .check(oneOf('input', 'inputRef'))

export const taskAcceptSchema = z.strictObject({
  id: taskIdSchema,
  queuePosition: count(MAX_QUEUE_LENGTH).exactOptional(),
})

export const taskRejectSchema = z.strictObject({
  id: taskIdSchema,
  error: wireErrorSchema,
  retryAfterMs: z.number().int().min(0).max(MAX_TIMEOUT_MS).exactOptional(),
})

export const taskProgressSchema = z
  .strictObject({
    id: taskIdSchema,
    progress: z.number().min(0).max(1),
    message: z.string().max(MAX_REASON_LENGTH).exactOptional(),
    /** Minor 3: text the task produced since its previous progress (docs/protocol.md §2.6). */
    delta: z.string().min(1, 'a delta is never empty: leave it out').max(MAX_DELTA_LENGTH).exactOptional(),
    /** Minor 6: the task's state as of `progress`, to resume from (docs/protocol.md §2.8). */
    checkpoint: checkpointSchema.exactOptional(),
    /** Minor 7: a large checkpoint as content by CID, instead of `checkpoint` (docs/protocol.md §2.8). */
    checkpointRef: contentRefSchema.exactOptional(),
  })
  .check(atMostOne('checkpoint', 'checkpointRef'))

export const timingsSchema = z.strictObject({
  queuedMs: duration,
  runMs: duration,
  totalMs: duration,
})

const resultBase = {
  id: taskIdSchema,
  requestHash: digestSchema,
  timings: timingsSchema,
}

export const taskResultSchema = z.discriminatedUnion('status', [
  z
    .strictObject({
      ...resultBase,
      status: z.literal('completed'),
      output: jsonValue.exactOptional(),
      /** Minor 5: the output as content by CID, instead of `output` (docs/protocol.md §2.9). */
      outputRef: contentRefSchema.exactOptional(),
    })
    .check(oneOf('output', 'outputRef')),
  z.strictObject({
    ...resultBase,
    status: z.enum(['failed', 'timeout', 'cancelled']),
    error: wireErrorSchema,
  }),
])

export const taskCancelSchema = z.strictObject({
  id: taskIdSchema,
  reason: z.string().max(MAX_REASON_LENGTH).exactOptional(),
})

const unique = <T>(items: readonly T[]) => new Set(items).size === items.length

/**
 * A signed `task.request` envelope carried unchanged inside a `task.forward` (minor 1). The schema
 * checks its shape; a receiver still verifies it with `openEnvelope`.
 */
export const forwardedRequestSchema = z.strictObject({
  v: z.literal(PROTOCOL_MAJOR),
  type: z.literal('task.request'),
  from: peerIdSchema,
  ts: timestampSchema,
  nonce: nonceSchema,
  payload: taskRequestSchema,
  sig: signatureSchema,
})

export const taskForwardSchema = z.strictObject({
  request: forwardedRequestSchema,
  ttl: z
    .number()
    .int()
    .min(0)
    .max(MAX_FORWARD_HOPS - 1),
  route: z.array(peerIdSchema).min(1).max(MAX_FORWARD_HOPS).refine(unique, 'duplicate peers in route'),
  trace: traceContextSchema.exactOptional(),
})

/** One entry of `capabilities.reach` (minor 1): a task type the sender can get run by forwarding. */
export const reachSchema = z.strictObject({
  taskType: taskTypeSchema,
  hops: z.number().int().min(1).max(MAX_FORWARD_HOPS),
  via: peerIdSchema,
})

export const modelSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:@/+-]+$/, 'expected a model id like "Xenova/all-MiniLM-L6-v2"'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 digest as 64 lowercase hex digits'),
  taskTypes: z.array(taskTypeSchema).min(1).max(MAX_TASK_TYPES).refine(unique, 'duplicate task types'),
  bytes: count(Number.MAX_SAFE_INTEGER).exactOptional(),
  // Minor 3: what a generative model is (docs/protocol.md §5.7), so requesters can route by it.
  family: z
    .string()
    .min(1)
    .max(MAX_MODEL_FAMILY_LENGTH)
    .regex(/^[A-Za-z0-9._-]+$/, 'expected an architecture name like "llama" or "qwen2"')
    .exactOptional(),
  quantization: z
    .string()
    .min(1)
    .max(MAX_MODEL_FAMILY_LENGTH)
    .regex(/^[A-Za-z0-9._-]+$/, 'expected a quantization name like "Q4_K_M" or "F16"')
    .exactOptional(),
  contextLength: z.number().int().min(1).max(MAX_CONTEXT_LENGTH).exactOptional(),
  /** Minor 5: the CID of the model's files (a UnixFS directory), whose blocks the sender provides. */
  cid: cidSchema.exactOptional(),
})

/** `capabilities.content` (minor 5): the sender takes content by CID, up to `maxBytes` per item. */
export const contentCapabilitySchema = z.strictObject({
  maxBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
})

/** `capabilities.resources` (minor 4): the sender's machine, and whether it takes tasks now. */
export const resourcesSchema = z.strictObject({
  cpu: z.number().int().min(0).max(100),
  nodeCpu: z.number().int().min(0).max(100),
  memoryFree: count(Number.MAX_SAFE_INTEGER),
  paused: z.literal(true).exactOptional(),
  onBattery: z.literal(true).exactOptional(),
})

export const capabilitiesSchema = z.strictObject({
  protocolMinor: count(65_535),
  agentVersion: z.string().min(1).max(128).exactOptional(),
  taskTypes: z.array(taskTypeSchema).max(MAX_TASK_TYPES).refine(unique, 'duplicate task types'),
  models: z
    .array(modelSchema)
    .max(MAX_MODELS)
    .refine((models) => unique(models.map((model) => model.id)), 'duplicate model ids'),
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY),
  load: z.strictObject({
    running: count(MAX_CONCURRENCY),
    queued: count(MAX_QUEUE_LENGTH),
  }),
  reach: z
    .array(reachSchema)
    .max(MAX_TASK_TYPES)
    .refine((entries) => unique(entries.map((entry) => entry.taskType)), 'duplicate task types')
    .exactOptional(),
  resources: resourcesSchema.exactOptional(),
  content: contentCapabilitySchema.exactOptional(),
})

export const goodbyeSchema = z.strictObject({
  reason: z.string().max(MAX_REASON_LENGTH).exactOptional(),
})

/** The payload schema of each message type. */
export const payloadSchemas = {
  'task.request': taskRequestSchema,
  'task.accept': taskAcceptSchema,
  'task.reject': taskRejectSchema,
  'task.progress': taskProgressSchema,
  'task.result': taskResultSchema,
  'task.cancel': taskCancelSchema,
  capabilities: capabilitiesSchema,
  goodbye: goodbyeSchema,
  'task.forward': taskForwardSchema,
} as const

// ---- envelope -------------------------------------------------------------------------------

/**
 * A batch signature (minor 2, docs/protocol.md §4.5): one Ed25519 signature over the Merkle root
 * of `size` envelopes, and this envelope's place (`index`) and inclusion proof (`path`) in it.
 */
export const batchProofSchema = z.strictObject({
  size: z.number().int().min(2).max(MAX_BATCH_SIZE),
  index: z
    .number()
    .int()
    .min(0)
    .max(MAX_BATCH_SIZE - 1),
  path: z.array(digestSchema).min(1).max(MAX_BATCH_PATH),
  sig: signatureSchema,
})

function envelopeOf<T extends keyof typeof payloadSchemas>(type: T) {
  return z
    .strictObject({
      v: z.literal(PROTOCOL_MAJOR),
      type: z.literal(type),
      from: peerIdSchema,
      ts: timestampSchema,
      nonce: nonceSchema,
      payload: payloadSchemas[type],
      sig: signatureSchema.exactOptional(),
      batch: batchProofSchema.exactOptional(),
    })
    .check((ctx) => {
      const { sig, batch } = ctx.value
      if ((sig === undefined) === (batch === undefined)) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          path: ['sig'],
          message:
            sig === undefined
              ? 'expected a signature: `sig`, or `batch` for a batch signature'
              : 'expected either `sig` or `batch`, not both',
        })
      }
    })
}

export const envelopeSchema = z.discriminatedUnion('type', [
  envelopeOf('task.request'),
  envelopeOf('task.accept'),
  envelopeOf('task.reject'),
  envelopeOf('task.progress'),
  envelopeOf('task.result'),
  envelopeOf('task.cancel'),
  envelopeOf('capabilities'),
  envelopeOf('goodbye'),
  envelopeOf('task.forward'),
])

function controlOf<T extends 'task.accept' | 'task.reject' | 'task.progress' | 'task.cancel'>(type: T) {
  return z.strictObject({
    v: z.literal(PROTOCOL_MAJOR),
    type: z.literal(type),
    payload: payloadSchemas[type],
  })
}

/** Unsigned control messages (docs/protocol.md §2.4): the four steering types, without signature. */
export const controlSchema = z.discriminatedUnion('type', [
  controlOf('task.accept'),
  controlOf('task.reject'),
  controlOf('task.progress'),
  controlOf('task.cancel'),
])

// ---- the trace protocol (minor 3) -----------------------------------------------------------

const spanAttributeKey = /^[a-z][a-z0-9_.]{0,63}$/

/** One span of a `trace.spans` answer: what one node recorded of one step of a task. */
export const traceSpanSchema = z
  .strictObject({
    spanId: spanIdSchema,
    parentId: spanIdSchema.exactOptional(),
    node: peerIdSchema,
    name: z
      .string()
      .max(64)
      .regex(/^[a-z][a-z0-9._-]*$/, 'expected a span name: lowercase letters, digits, ".", "_" and "-"'),
    kind: z.enum(['internal', 'server', 'client']),
    startUs: timestampSchema,
    endUs: timestampSchema,
    status: z.enum(['unset', 'ok', 'error']),
    attributes: z
      .record(
        z.string().regex(spanAttributeKey, 'expected an attribute key like "p2p_ai.task.type"'),
        z.union([z.string().max(MAX_REASON_LENGTH), z.number().refine(Number.isFinite), z.boolean()]),
      )
      .refine(
        (a) => Object.keys(a).length <= MAX_SPAN_ATTRIBUTES,
        `at most ${MAX_SPAN_ATTRIBUTES} attributes`,
      )
      .exactOptional(),
  })
  .refine((span) => span.endUs >= span.startUs, {
    message: 'a span cannot end before it starts',
    path: ['endUs'],
  })

/** `trace.query`: the spans of this trace, please (and of the peers you passed it on to, up to `hops` links further). */
export const traceQuerySchema = z.strictObject({
  traceId: traceIdSchema,
  hops: z
    .number()
    .int()
    .min(0)
    .max(MAX_FORWARD_HOPS - 1),
})

/** `trace.spans`: the answer to a `trace.query`. */
export const traceSpansSchema = z.strictObject({
  traceId: traceIdSchema,
  spans: z.array(traceSpanSchema).max(MAX_TRACE_SPANS),
  missing: z.array(peerIdSchema).max(MAX_FORWARD_HOPS).refine(unique, 'duplicate peers').exactOptional(),
})

/** The payload schema of each message of the trace protocol. */
export const tracePayloadSchemas = {
  'trace.query': traceQuerySchema,
  'trace.spans': traceSpansSchema,
} as const
