/**
 * Protocol ids, defaults and bounds. Every limit a receiver enforces lives here so that
 * docs/protocol.md and the schemas cannot disagree about a number.
 */

/** The per-task stream: request, accept/reject, progress, result, cancel. */
export const TASK_PROTOCOL = '/p2p-ai/task/1.0.0'

/** One-shot announcements pushed to a peer: `capabilities` and `goodbye`. */
export const ANNOUNCE_PROTOCOL = '/p2p-ai/announce/1.0.0'

/**
 * Asking a peer for the spans it recorded of a trace (minor 3, docs/protocol.md §2.7): one
 * `trace.query`, one `trace.spans` answer.
 */
export const TRACE_PROTOCOL = '/p2p-ai/trace/1.0.0'

/** Every protocol id this package speaks, newest major first (the order a dialer proposes them in). */
export const PROTOCOLS = [TASK_PROTOCOL, ANNOUNCE_PROTOCOL, TRACE_PROTOCOL] as const

/** The envelope `v` field: the protocol's major version. */
export const PROTOCOL_MAJOR = 1

/**
 * The highest minor version of major 1 this implementation speaks. Announced in `capabilities`
 * so that peers only send fields and message types a receiver knows.
 */
export const PROTOCOL_MINOR = 7

/** Minor 1 added forwarding: `task.forward` and `capabilities.reach` (docs/protocol.md §2.5). */
export const FORWARDING_MINOR = 1

/** Minor 2 added batch signatures: envelopes with `batch` instead of `sig` (docs/protocol.md §4.5). */
export const BATCH_SIGNATURES_MINOR = 2

/**
 * Minor 3 added streamed output: `task.progress` may carry `delta`, the text a task produced since
 * its previous progress (docs/protocol.md §2.6), and a `capabilities` model may describe a
 * generative model (`family`, `quantization`, `contextLength`).
 */
export const STREAMING_MINOR = 3

/**
 * Minor 3 added W3C trace context too: the optional `trace` of `task.request` and `task.forward`,
 * and the trace protocol ({@link TRACE_PROTOCOL}) (docs/protocol.md §2.7).
 */
export const TRACE_CONTEXT_MINOR = 3

/**
 * Minor 4 added `capabilities.resources`: how busy the sender's machine is and whether it takes
 * tasks at all (docs/protocol.md §5.7).
 */
export const RESOURCES_MINOR = 4

/**
 * Minor 4 also added the task error codes `ERR_RATE_LIMITED` and `ERR_INPUT_TOO_LARGE` (a
 * provider's per-peer limits, docs/protocol.md §6.2). A peer below it is sent a code it knows and
 * acts on the same way instead (`taskErrorCodeFor`).
 */
export const LIMIT_CODES_MINOR = 4

/**
 * Minor 6 added checkpoints: `task.progress` may carry `checkpoint`, a task's opaque state, and a
 * `task.request` may carry `resume`, the checkpoint a new attempt starts from (docs/protocol.md
 * §2.8).
 */
export const CHECKPOINT_MINOR = 6

/**
 * Minor 7 added checkpoints by CID: a checkpoint too large to go inline travels as a content
 * reference, `task.progress` `checkpointRef` and `task.request` `resume.checkpointRef`, fetched
 * like a large input (docs/protocol.md §2.8, §2.9).
 */
export const CHECKPOINT_REF_MINOR = 7

/**
 * Minor 5 added content by CID (docs/protocol.md §2.9): a `task.request` may carry its input as
 * `inputRef` and a completed `task.result` its output as `outputRef`, fetched over Bitswap;
 * `capabilities` may say the sender takes content (`content`) and give a model's `cid`.
 */
export const CONTENT_MINOR = 5

/**
 * A CID as content references carry it (minor 5): CIDv1 in base32 (multibase `b`), codec `dag-pb`
 * or `raw`, multihash SHA-256 of 32 bytes; 59 characters. The last one carries 3 data bits and two
 * zero bits, so the spelling is canonical.
 */
export const CONTENT_CID_PATTERN = /^b(afybei|afkrei)[a-h][a-z2-7]{50}[aeimquy4]$/

/** Domain separation for envelope signatures: prepended to the canonical JSON before signing. */
export const SIGNING_PREFIX = 'p2p-ai/envelope/v1\n'

/**
 * Domain separation for batch signatures (minor 2): prepended to the 32-byte Merkle root the
 * signature covers. Differs from {@link SIGNING_PREFIX}, so neither signature can pass for the other.
 */
export const BATCH_SIGNING_PREFIX = 'p2p-ai/batch/v1\n'

/**
 * Most envelopes one batch signature covers. 1,024 keeps every inclusion proof at 10 digests or
 * fewer while amortising the signature to almost nothing.
 */
export const MAX_BATCH_SIZE = 1024

/** Longest inclusion proof in a batch of {@link MAX_BATCH_SIZE}: ⌈log2(1024)⌉. */
export const MAX_BATCH_PATH = 10

/** Largest frame body accepted or produced, in bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

/** Hard ceiling for `maxFrameBytes`: a frame must fit one JavaScript string comfortably. */
export const MAX_FRAME_BYTES_LIMIT = 256 * 1024 * 1024

/** The unsigned-varint spec caps the length prefix at 9 bytes (63 bits). */
export const MAX_VARINT_BYTES = 9

/**
 * Accepted difference between a message's `ts` and the receiver's clock, both directions.
 * Replay safety does not depend on it (see replay-cache.ts); it bounds how late a captured
 * message can still be delivered, while tolerating laptops whose clocks drift for minutes.
 */
export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000

/** Default replay cache capacity: about 20 MB at most, 25 s of traffic at 4,000 messages/s. */
export const DEFAULT_REPLAY_CACHE_MAX_ENTRIES = 100_000

/** Nesting limit for any JSON value we canonicalize (envelope included), so recursion stays bounded. */
export const MAX_JSON_DEPTH = 64

/** Random bytes in an envelope nonce. */
export const NONCE_BYTES = 16

/** Priority range: higher runs first. */
export const MIN_PRIORITY = 0
export const MAX_PRIORITY = 9
export const DEFAULT_PRIORITY = 5

/** Task timeout range in milliseconds (1 hour at most). */
export const MIN_TIMEOUT_MS = 1
export const MAX_TIMEOUT_MS = 60 * 60 * 1000
export const DEFAULT_TIMEOUT_MS = 30_000

/** Bounds on free-text and list fields. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024
export const MAX_REASON_LENGTH = 256
export const MAX_TASK_TYPES = 64
export const MAX_MODELS = 256
export const MAX_CONCURRENCY = 1024
export const MAX_QUEUE_LENGTH = 1_000_000
/**
 * Longest `task.progress` `delta` (minor 3), in UTF-16 code units: even escaped as `\u00hh`
 * throughout, a delta of this length fits a default frame with room to spare. A provider splits a
 * longer batch of streamed text over several progress messages.
 */
export const MAX_DELTA_LENGTH = 262_144
/**
 * Largest checkpoint (minor 6): the UTF-8 length of the RFC 8785 canonical JSON of a
 * `task.progress` `checkpoint` or a `task.request` `resume.checkpoint`. A request carrying one
 * must still fit a frame; larger state is the task type's to keep elsewhere.
 */
export const MAX_CHECKPOINT_BYTES = 1_048_576
/** Longest `family` or `quantization` of an announced model (minor 3). */
export const MAX_MODEL_FAMILY_LENGTH = 64
/** Largest `contextLength` of an announced model, in tokens (minor 3). */
export const MAX_CONTEXT_LENGTH = 16_777_216

/**
 * Most links a forwarded task may travel (minor 1, docs/protocol.md §2.5): the ceiling of a
 * `task.forward`'s `ttl` and `route` length and of an announced `reach` distance.
 */
export const MAX_FORWARD_HOPS = 16

/** Longest `tracestate` carried in a `trace` (W3C Trace Context: 32 list members, 512 characters). */
export const MAX_TRACESTATE_LENGTH = 512

/** Most spans one `trace.spans` answer carries (minor 3). */
export const MAX_TRACE_SPANS = 512

/** Most attributes on one span of a `trace.spans` answer (minor 3). */
export const MAX_SPAN_ATTRIBUTES = 32
