/**
 * Every metric this package exports under `p2p_ai_`, as data: name, type, help and labels. The
 * collectors build their prom-client metrics from here, and docs/observability.md lists the same
 * table (a test holds the two together). Names follow Prometheus conventions: base units
 * (`_seconds`, `_bytes`), `_total` on counters, and labels with a bounded set of values (no task
 * ids, peer ids or free text: task types and error codes are capped, see labels.ts).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram'

export interface MetricSpec {
  readonly name: string
  readonly type: MetricType
  readonly help: string
  readonly labels: readonly string[]
}

const spec = (name: string, type: MetricType, labels: readonly string[], help: string): MetricSpec =>
  Object.freeze({ name, type, help, labels: Object.freeze([...labels]) })

/** Latency buckets, in seconds: from a millisecond (a mock task on loopback) to minutes (a long generation). */
export const SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
])

export const METRICS = Object.freeze({
  nodeInfo: spec(
    'p2p_ai_node_info',
    'gauge',
    ['version', 'agent_version', 'peer_id'],
    'Always 1; the labels say which node and software this is.',
  ),
  nodeState: spec(
    'p2p_ai_node_state',
    'gauge',
    ['state'],
    'Lifecycle state: 1 for the current one (INITIALIZING, REGISTERING, ACTIVE, SHUTTING_DOWN, STOPPED), 0 for the others.',
  ),
  nodeReady: spec(
    'p2p_ai_node_ready',
    'gauge',
    [],
    '1 when the node is ACTIVE and every local component is healthy, else 0.',
  ),
  nodeStartTime: spec(
    'p2p_ai_node_start_time_seconds',
    'gauge',
    [],
    'Unix time at which the node became ACTIVE; 0 before.',
  ),
  nodeUptime: spec('p2p_ai_node_uptime_seconds', 'gauge', [], 'Seconds since the node became ACTIVE.'),
  peers: spec(
    'p2p_ai_peers',
    'gauge',
    ['status'],
    'Peers in the peer directory: connected, or failed and being redialled.',
  ),
  peerConnections: spec(
    'p2p_ai_peer_connections',
    'gauge',
    ['kind', 'transport'],
    'Connected peers by how this node reaches them: the kind (direct, relayed) and transport (tcp, websockets, quic, other) of their best connection.',
  ),
  peerEvents: spec(
    'p2p_ai_peer_events_total',
    'counter',
    ['event'],
    'Peer directory events: connect, failed (connection lost or heartbeat unanswered), remove (goodbye or redials gave up).',
  ),
  messages: spec(
    'p2p_ai_messages_total',
    'counter',
    ['protocol', 'direction'],
    'Messages (frames) on the task and announce protocols, by direction (in, out).',
  ),
  messageBytes: spec(
    'p2p_ai_message_bytes_total',
    'counter',
    ['protocol', 'direction'],
    'Bytes of those messages, length prefixes included, by direction (in, out).',
  ),
  tasks: spec(
    'p2p_ai_tasks_total',
    'counter',
    ['side', 'type', 'outcome'],
    'Finished tasks: submitted here (side="submitted", wherever they ran) or served for peers (side="served"), by outcome (completed, failed, timeout, cancelled).',
  ),
  taskFailures: spec(
    'p2p_ai_task_failures_total',
    'counter',
    ['side', 'code'],
    'Tasks that failed or timed out, by error code.',
  ),
  taskStage: spec(
    'p2p_ai_task_stage_seconds',
    'histogram',
    ['side', 'stage', 'type'],
    'Time of completed tasks per stage: queue and run (served: on this node; submitted: as the provider signed them), network (submitted: round trip less the provider time) and total (submitted: submission to verified result).',
  ),
  taskRetries: spec(
    'p2p_ai_task_retries_total',
    'counter',
    ['type', 'code'],
    'Further attempts of tasks submitted here, by the error code of the attempt that failed before.',
  ),
  taskFailovers: spec(
    'p2p_ai_task_failovers_total',
    'counter',
    ['type', 'code'],
    'Those of the further attempts that went to another peer than the failed one.',
  ),
  tasksQueued: spec('p2p_ai_tasks_queued', 'gauge', [], "Tasks waiting in this node's engine queue."),
  tasksRunning: spec('p2p_ai_tasks_running', 'gauge', [], "Tasks running in this node's engine."),
  tasksInFlight: spec(
    'p2p_ai_tasks_in_flight',
    'gauge',
    [],
    'Tasks submitted here that are not final yet, wherever they run.',
  ),
  engineConcurrency: spec(
    'p2p_ai_engine_concurrency',
    'gauge',
    [],
    'Tasks the engine runs at once (engine.concurrency).',
  ),
  engineQueueLimit: spec(
    'p2p_ai_engine_queue_limit',
    'gauge',
    [],
    'Tasks the engine queue holds at most (engine.maxQueueLength).',
  ),
  signatureChecks: spec(
    'p2p_ai_signature_checks_total',
    'counter',
    ['result'],
    'Ed25519 signatures checked on received envelopes (a batch signature counts once), by result (valid, invalid).',
  ),
  refusals: spec(
    'p2p_ai_refusals_total',
    'counter',
    ['code'],
    'Task requests from peers this node refused (task.reject, or a message that failed its checks), by code.',
  ),
  modelLoaded: spec(
    'p2p_ai_model_loaded',
    'gauge',
    ['model'],
    'Models this node serves: 1 while loaded in memory, else 0.',
  ),
  modelSize: spec('p2p_ai_model_size_bytes', 'gauge', ['model'], 'Size of each model file.'),
  modelsLoadedBytes: spec(
    'p2p_ai_models_loaded_bytes',
    'gauge',
    [],
    'Memory held by loaded models, estimated by the size of their files.',
  ),
  storeSize: spec(
    'p2p_ai_store_size_bytes',
    'gauge',
    ['store'],
    'Size on disk of the result stores (results: tasks run here; submitted: tasks submitted here), database and write-ahead log.',
  ),
  alertActive: spec(
    'p2p_ai_alert_active',
    'gauge',
    ['alert'],
    '1 while the alert is raised, else 0 (see node status and docs/observability.md).',
  ),
} satisfies Record<string, MetricSpec>)

/** The catalog as a list, in document order. */
export const METRIC_LIST: readonly MetricSpec[] = Object.freeze(Object.values(METRICS))
