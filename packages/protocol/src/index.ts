/**
 * The p2p-ai wire protocol: task messages with strict schemas, signed envelopes (Ed25519 over
 * RFC 8785 canonical JSON, with replay protection), a varint length-prefixed JSON frame codec
 * and coded errors. No libp2p: the transport hands over bytes and the connection's PeerId.
 * The specification, with a test vector, is docs/protocol.md.
 *
 * @example
 * ```ts
 * import { generateIdentity } from '@p2p-ai/identity'
 * import { createTaskRequest, encodeJsonFrame, openEnvelope, replayCache, sealEnvelope } from '@p2p-ai/protocol'
 *
 * const me = generateIdentity()
 * const sealed = sealEnvelope(me, 'task.request', createTaskRequest({ requester: me.peerId, taskType: 'embed', input: { texts: ['hi'] } }))
 * const frame = encodeJsonFrame(sealed.json) // write to a stream
 * // on the other side, for each decoded frame value:
 * const { envelope } = openEnvelope(JSON.parse(sealed.json), { replayCache: replayCache(), expectedSender: me.peerId })
 * ```
 *
 * @packageDocumentation
 */

export {
  type BatchCache,
  type BatchCacheInit,
  batchCache,
  batchSigningInput,
  DEFAULT_BATCH_CACHE_MAX_ENTRIES,
} from './batch-cache.js'
export { canonicalize, type JsonObject, type JsonValue } from './canonical-json.js'
export {
  type ByteSource,
  type DecodedFrame,
  type DecodeFramesOptions,
  decodeFrames,
  type EncodeFrameOptions,
  encodeBodyFrame,
  encodeFrame,
  encodeJsonFrame,
  type FrameCodecInit,
  type FrameDecoder,
  frameDecoder,
} from './codec.js'
export * from './constants.js'
export {
  CONTROL_TYPES,
  type ControlMessage,
  type ControlType,
  createControlMessage,
  type EncodeControlOptions,
  encodeControl,
  isControlType,
  type MessageHead,
  peekMessage,
  readControl,
  validateControl,
} from './control.js'
export {
  digestOf,
  MAX_SIGNATURE_JSON_BYTES,
  type OpenEnvelopeOptions,
  openEnvelope,
  type PreparedEnvelope,
  prepareEnvelope,
  type SealEnvelopeOptions,
  type SignedEnvelope,
  type Signer,
  sealEnvelope,
  sealPrepared,
  signingInput,
} from './envelope.js'
export {
  AbortedError,
  BadSignatureError,
  ForwardLoopError,
  type FrameError,
  FrameTooLargeError,
  FrameTruncatedError,
  InvalidJsonError,
  InvalidJsonValueError,
  InvalidMessageError,
  InvalidOptionError,
  InvalidUtf8Error,
  InvalidVarintError,
  ProtocolError,
  RemoteError,
  ReplayedNonceError,
  ResultMismatchError,
  SignerMismatchError,
  StaleMessageError,
  StreamFailedError,
  UnsupportedVersionError,
} from './errors.js'
export { type OpenedForward, type OpenForwardOptions, openForward, sealForward } from './forward.js'
export { leafHash, type MerkleTree, merkleTree, nodeHash, rootFromPath } from './merkle.js'
export {
  type BatchProof,
  type Capabilities,
  type ContentRef,
  type Envelope,
  type Goodbye,
  isMessageType,
  MESSAGE_TYPES,
  type MessageType,
  type ModelInfo,
  type Payloads,
  type ReachEntry,
  type ResourceFigures,
  type SoloEnvelope,
  type TaskAccept,
  type TaskCancel,
  type TaskForward,
  type TaskProgress,
  type TaskReject,
  type TaskRequest,
  type TaskResult,
  type TaskStatus,
  type TaskTimings,
  type UnsignedEnvelope,
  validateEnvelope,
  validatePayload,
  type WireError,
} from './messages.js'
export { type ReplayCache, type ReplayCacheInit, type ReplayVerdict, replayCache } from './replay-cache.js'
export { streamedTextOf } from './stream.js'
export {
  assertResultMatches,
  createTaskRequest,
  fromWireError,
  newTaskId,
  type TaskRequestInit,
  type TaskResume,
  toWireError,
} from './task.js'
export {
  isTaskErrorCode,
  TASK_ERROR_CODES,
  type TaskErrorCode,
  taskErrorCodeFor,
  toTaskErrorCode,
} from './task-errors.js'
export {
  encodeTraceMessage,
  formatTraceparent,
  parseTraceparent,
  readTraceMessage,
  type TraceContext,
  type TraceMessageType,
  type TracePayloads,
  type Traceparent,
  type TraceSpan,
} from './trace.js'
