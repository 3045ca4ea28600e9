/**
 * `@p2p-ai/node`: a p2p-ai agent in a few lines. Composes the identity (Ed25519, persisted in the
 * data directory), the libp2p transport (TCP/WebSockets, mDNS, bootstrap), the task engine and
 * its result store under one lifecycle (INITIALIZING → REGISTERING → ACTIVE → SHUTTING_DOWN →
 * STOPPED), with a peer directory kept fresh by heartbeats, time-boxed health checks, a readiness
 * probe, structured logging and a YAML + environment configuration that reloads at run time.
 *
 * ```ts
 * import { createNode, handleSignals } from '@p2p-ai/node'
 *
 * const node = await createNode({ dataDir: './data' })
 * handleSignals(node) // graceful shutdown on Ctrl-C (CLIs only)
 * node.addEventListener('peer:connect', (evt) => console.log('peer', evt.detail.peerId))
 * console.log(node.metadata())
 * ```
 *
 * @packageDocumentation
 */

export {
  type AlertChange,
  AlertMonitor,
  type AlertMonitorInit,
  type AlertState,
} from './alerts/monitor.js'
export {
  ALERT_NAMES,
  ALERT_RULES,
  type AlertName,
  type AlertReadings,
  type AlertRule,
  type AlertsConfig,
} from './alerts/rules.js'
export { capabilitiesOf } from './announce/capabilities.js'
export { MAX_ANNOUNCE_FRAME_BYTES } from './announce/constants.js'
export { envName, FIELDS, type FieldSpec, type FieldType } from './config/fields.js'
export {
  type LoadConfigOptions,
  loadConfig,
  MAX_CONFIG_FILE_BYTES,
  resolveNodeConfig,
} from './config/load.js'
export { defaultConfigFile, defaultDataDir, type Env } from './config/paths.js'
export type { ConfigChange } from './config/reconfigure.js'
export { REDACTED, redactConfig } from './config/redact.js'
export { parseSize, type Size, sizeBytes } from './config/size.js'
export {
  type DeepPartial,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type NodeConfig,
  type NodeConfigInput,
} from './config/types.js'
export { type ConfigWatcher, type WatchConfigInit, watchConfig } from './config/watch.js'
export * from './constants.js'
export {
  ContentDisabledError,
  ContentTooLargeError,
  ContentUnavailableError,
  InvalidContentError,
} from './content/errors.js'
export { getJson, putJson } from './content/json.js'
export type {
  ContentComponents,
  ContentFactory,
  ContentGetOptions,
  ContentPutOptions,
  ContentRef,
  ContentService,
  ModelCid,
} from './content/types.js'
export { createNode, type NodeInit } from './create.js'
export { capabilityKeys, modelKey, taskKey } from './discovery/keys.js'
export {
  type ConfigIssue,
  ConfigReadError,
  type ConfigSource,
  ConfigSyntaxError,
  ConfigValidationError,
  DataDirError,
  DialFailedError,
  DuplicateHealthCheckError,
  HealthCheckTimeoutError,
  InvalidPeerAddressError,
  InvalidStateTransitionError,
  NodeNotActiveError,
  StartAbortedError,
  StartFailedError,
} from './errors.js'
// Task exchange and routing
export * from './exchange/index.js'
export type {
  ComponentHealth,
  HealthCheck,
  HealthCheckOptions,
  HealthCheckResult,
  HealthReport,
  HealthStatus,
} from './health/monitor.js'
// Jobs: many tasks over the items of one input
export {
  InvalidJobError,
  JobInputChangedError,
  JobInputError,
  JobItemFailedError,
  JobNotFoundError,
  JobNotResumableError,
  JobOutputError,
  JobStoreError,
} from './jobs/errors.js'
export {
  isFinalJobStatus,
  type JobEvents,
  type JobHandle,
  type JobInput,
  type JobItem,
  type JobList,
  type JobListOptions,
  type JobRecord,
  type JobResult,
  type JobResultsOptions,
  type JobResumeOptions,
  type JobSource,
  type JobSplit,
  type JobStatus,
  type JobSubmission,
} from './jobs/types.js'
export { canTransition, NODE_STATES, type NodeState, type StateChange } from './lifecycle.js'
export {
  colourAllowed,
  createLogger,
  type Logger,
  type LoggerInit,
  type TaskLogFields,
  taskLogFields,
} from './logger.js'
export { DEFAULT_AGENT_VERSION, type NodeCapabilities, type NodeMetadata, VERSION } from './metadata.js'
export type { NodeNetworkStatus } from './network-status.js'
export { type NodeCounters, P2PNode } from './node.js'
export {
  type AttachPeerDirectoryInit,
  attachPeerDirectory,
  describeConnection,
  peerNetwork,
} from './peers/attach.js'
export { BAN_POINTS, OFFENCE_POINTS } from './peers/constants.js'
export {
  PeerDirectory,
  type PeerDirectoryComponents,
  type PeerDirectoryEvents,
  type PeerDirectoryInit,
  type PeerFailure,
  type PeerRecord,
  type PeerRemoval,
  peerDirectory,
} from './peers/directory.js'
export {
  type Blame,
  type CircuitState,
  type ConductSettings,
  type FailureKind,
  type Offence,
  type PeerBan,
  type PeerReputation,
  ReputationBook,
  type ReputationBookEvents,
  type ReputationBookInit,
} from './peers/reputation.js'
export type {
  AddressLike,
  PeerConnection,
  PeerDirectorySettings,
  PeerInfo,
  PeerNetwork,
  PeerRemoveReason,
  PeerStatus,
} from './peers/types.js'
export { describePause, PAUSE_REASON_TEXT } from './resources/pause-reasons.js'
export { NodeResources, type ResourceSettings } from './resources/resources.js'
export { type SystemSamplerInit, systemSampler } from './resources/sampler.js'
export type {
  BatteryState,
  BatterySupport,
  PauseReason,
  RawSample,
  ResolvedLimits,
  ResourceSnapshot,
  ResourceStatus,
  Sampler,
} from './resources/types.js'
export type { ShutdownReport } from './shutdown.js'
export { type HandleSignalsOptions, handleSignals, type Stoppable } from './signals.js'
export { TRACE_HOP_TIMEOUT_MS } from './tracing/constants.js'
export {
  SPAN_ATTRIBUTES,
  type SpanOutcome,
  TaskTracer,
  type WorkTimings,
  wireContext,
} from './tracing/task-tracer.js'
export { type CollectedSpans, TraceService, type TraceServiceInit } from './tracing/trace-service.js'
export { NodeTraces, type NodeTracesInit, type TaskTrace, type TraceQueryOptions } from './tracing/traces.js'
export type {
  NodeSpan,
  NodeSpans,
  NodeTraceStore,
  NodeTracing,
  RemoteSpanParent,
  TracingContext,
  TracingFactory,
} from './tracing/types.js'
export { type ProtocolTraffic, TrafficCounters } from './traffic.js'
export type {
  NodeEvents,
  NodeExchangeInit,
  NodeIdentity,
  NodeWatchInit,
  StartOptions,
  StopOptions,
} from './types.js'
