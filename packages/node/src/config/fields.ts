import {
  DEFAULT_RELAY_CIRCUIT_BYTES,
  DEFAULT_RELAY_CIRCUIT_DURATION_MS,
  DEFAULT_RELAY_MAX_CIRCUITS,
  DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER,
  DEFAULT_RELAY_MAX_RESERVATIONS,
  DEFAULT_RELAY_RESERVATIONS,
} from '@p2p-ai/transport'
import {
  DEFAULT_ALERT_EVENT_LOOP_LAG_MS,
  DEFAULT_ALERT_FOR_MS,
  DEFAULT_ALERT_HYSTERESIS_PERCENT,
  DEFAULT_ALERT_INTERVAL_MS,
  DEFAULT_ALERT_MEMORY_PERCENT,
  DEFAULT_ALERT_PEERS_MIN,
  DEFAULT_ALERT_QUEUE_PERCENT,
  DEFAULT_ALERT_TASK_FAILURE_MIN_TASKS,
  DEFAULT_ALERT_TASK_FAILURE_PERCENT,
  DEFAULT_ALERT_TASK_FAILURE_WINDOW_MS,
  DEFAULT_CONTENT_INLINE_MAX_BYTES,
  DEFAULT_CONTENT_MAX_BYTES,
  DEFAULT_CONTENT_TTL_MS,
  DEFAULT_CRASH_WINDOW_MS,
  DEFAULT_DASHBOARD_HISTORY_DAYS,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_JOB_MAX_IN_FLIGHT,
  DEFAULT_JOB_QUEUE_PER_PEER,
  DEFAULT_JOB_RESUME_ON_START,
  DEFAULT_LISTEN,
  DEFAULT_LOG_LEVEL,
  DEFAULT_LOG_MAX_AGE_DAYS,
  DEFAULT_LOG_MAX_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CRASHES,
  DEFAULT_MAX_RESTART_DELAY_MS,
  DEFAULT_MDNS_SERVICE_TAG,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_RECONNECT_INITIAL_DELAY_MS,
  DEFAULT_RECONNECT_MAX_ATTEMPTS,
  DEFAULT_RECONNECT_MAX_DELAY_MS,
  DEFAULT_RESTART_DELAY_MS,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  DEFAULT_TRACE_RETENTION_HOURS,
  DEFAULT_TRACE_SAMPLE_PERCENT,
  ENGINE_DEFAULT_CONCURRENCY,
  ENGINE_DEFAULT_MAX_QUEUE_LENGTH,
  ENGINE_DEFAULT_RESULT_TTL_MS,
  ENGINE_DEFAULT_TASK_TIMEOUT_MS,
  ENV_PREFIX,
  IDENTITY_FILE_NAME,
} from '../constants.js'
import {
  DEFAULT_MAX_HOPS,
  DEFAULT_MAX_TASKS_PER_PEER,
  DEFAULT_RATE_LIMIT_BURST,
  DEFAULT_RATE_LIMIT_PER_SECOND,
  DEFAULT_RELAYED_TASK_MAX_BYTES,
  DEFAULT_TASK_MAX_FRAME_BYTES,
  LIVENESS_IDLE_MS,
  LIVENESS_PING_TIMEOUT_MS,
} from '../exchange/constants.js'
import { DEFAULT_BAN_MS, DEFAULT_MAX_BAN_MS } from '../peers/constants.js'
import {
  DEFAULT_IDLE_AFTER_MS,
  DEFAULT_IDLE_THRESHOLD,
  DEFAULT_PAUSE_GRACE_MS,
  DEFAULT_RESOURCES_INTERVAL_MS,
} from '../resources/constants.js'
import { windowProblem } from '../resources/windows.js'
import { defaultDataDir, type Env } from './paths.js'
import { LOG_LEVELS } from './types.js'

/** The type of one setting, which drives validation, environment parsing and the docs. */
export type FieldType =
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | {
      readonly kind: 'string'
      /** A shape the value must have, and how to say it (`64 hexadecimal digits`). */
      readonly pattern?: RegExp
      readonly expected?: string
      /** The empty string means "not set" (the default). */
      readonly optional?: boolean
    }
  | {
      readonly kind: 'path'
      /** The empty string means "not set" (the default). */
      readonly optional?: boolean
    }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | {
      readonly kind: 'size'
      /** What a percentage is of, in words: `the machine's RAM`. */
      readonly percentOf: string
    }
  | {
      readonly kind: 'list'
      /** Returns what is wrong with one item, or `undefined` when it is fine. */
      readonly check: (item: string) => string | undefined
      /** One item, in words: `multiaddr`. */
      readonly item: string
      /** Several items, in words: `multiaddrs`. */
      readonly items: string
    }

/** What the default of a field may depend on. */
export interface DefaultContext {
  readonly env: Env
  readonly platform: NodeJS.Platform
  /** The resolved data directory (fields after `dataDir` may depend on it). */
  readonly dataDir: string
}

/** One leaf setting of the configuration. */
export interface FieldSpec {
  /** Dotted path, e.g. `network.maxConnections`. */
  readonly path: string
  readonly type: FieldType
  readonly default: (ctx: DefaultContext) => unknown
  /** `live`: applied to a running node when the file changes; `restart`: needs a restart. */
  readonly reload: 'live' | 'restart'
  /** One sentence for docs/configuration.md. */
  readonly description: string
  /**
   * Holds a secret (a key, a token, credentials): `redactConfig` hides its value, so debug
   * snapshots and logs never carry it.
   */
  readonly secret?: boolean
}

const MS_PER_DAY = 86_400_000

function multiaddrProblem(item: string): string | undefined {
  if (!item.startsWith('/')) return 'a multiaddr starts with /'
  if (/\s/.test(item)) return 'a multiaddr has no spaces'
  return undefined
}

function bootstrapProblem(item: string): string | undefined {
  return multiaddrProblem(item) ?? (/\/p2p\/[^/]+$/.test(item) ? undefined : 'must end with /p2p/<peerId>')
}

function inputCapProblem(item: string): string | undefined {
  const match = /^([a-z0-9][a-z0-9._-]{0,63})=(\d{1,10})$/.exec(item)
  if (match === null) return 'a task type, =, and a number of bytes, such as ocr=8388608'
  const bytes = Number(match[2])
  return bytes >= 1 && bytes <= DEFAULT_TASK_MAX_FRAME_BYTES
    ? undefined
    : `bytes from 1 to ${DEFAULT_TASK_MAX_FRAME_BYTES} (the task frame limit)`
}

function peerIdProblem(item: string): string | undefined {
  return /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(item) ? undefined : 'an Ed25519 PeerId, 12D3KooW…'
}

function headerProblem(item: string): string | undefined {
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]+=\S.*$/.test(item) ? undefined : 'name=value, with a header name'
}

const int = (min: number, max: number): FieldType => ({ kind: 'integer', min, max })
const constant = (value: unknown) => (): unknown => (Array.isArray(value) ? [...value] : value)

/**
 * Every setting, in document order. The validator, the environment mapping, hot reload and
 * docs/configuration.md all derive from this table; `NodeConfig` is its typed mirror (a test
 * checks that both agree).
 */
export const FIELDS: readonly FieldSpec[] = Object.freeze([
  {
    path: 'dataDir',
    type: { kind: 'path' },
    default: (ctx) => defaultDataDir(ctx.env, ctx.platform),
    reload: 'restart',
    description: 'Directory of the identity key and the result store.',
  },
  {
    path: 'identity.keyFile',
    type: { kind: 'path' },
    default: (ctx) => `${ctx.dataDir}/${IDENTITY_FILE_NAME}`,
    reload: 'restart',
    description: 'Ed25519 key file, created on first start; keeps the PeerId across restarts.',
  },
  {
    path: 'network.listen',
    type: { kind: 'list', check: multiaddrProblem, item: 'multiaddr', items: 'multiaddrs' },
    default: constant(DEFAULT_LISTEN),
    reload: 'restart',
    description:
      'Multiaddrs to listen on (TCP, WebSockets and QUIC; the QUIC ones are skipped where @chainsafe/libp2p-quic cannot be loaded).',
  },
  {
    path: 'network.bootstrap',
    type: {
      kind: 'list',
      check: bootstrapProblem,
      item: 'multiaddr ending in /p2p/<peerId>',
      items: 'multiaddrs ending in /p2p/<peerId>',
    },
    default: constant([]),
    reload: 'restart',
    description: 'Peers dialled at start.',
  },
  {
    path: 'network.maxConnections',
    type: int(1, 10_000),
    default: constant(DEFAULT_MAX_CONNECTIONS),
    reload: 'live',
    description: 'Most open connections; when lowered at run time, the excess is closed.',
  },
  {
    path: 'network.mdns.enabled',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description: 'Discover peers on the local network with multicast DNS.',
  },
  {
    path: 'network.mdns.interface',
    type: { kind: 'string' },
    default: constant('auto'),
    reload: 'restart',
    description:
      '`lan` (all non-loopback IPv4 interfaces), `loopback`, an interface name such as `eth0` or its IPv4 address, or `auto`: `loopback` when every listen address is a loopback one, else `lan`.',
  },
  {
    path: 'network.mdns.serviceTag',
    type: { kind: 'string' },
    default: constant(DEFAULT_MDNS_SERVICE_TAG),
    reload: 'restart',
    description:
      'DNS-SD service name; only nodes with the same tag see each other (separates networks on one LAN).',
  },
  {
    path: 'network.dht',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Run the Kademlia DHT (`/p2p-ai/kad/1.0.0`) for discovery beyond the LAN: peers, and providers of a task type or model that no connected peer runs (each node advertises what it runs).',
  },
  {
    path: 'network.dhtMode',
    type: { kind: 'enum', values: ['auto', 'client', 'server'] },
    default: constant('auto'),
    reload: 'restart',
    description:
      '`auto`: serve the DHT once the node has a confirmed public address, only query it behind NAT; `client`: never serve; `server`: always serve (a LAN-only DHT).',
  },
  {
    path: 'network.announce',
    type: { kind: 'list', check: multiaddrProblem, item: 'multiaddr', items: 'multiaddrs' },
    default: constant([]),
    reload: 'restart',
    description:
      'Addresses announced on top of those the node finds itself, trusted without AutoNAT: the public address of a server or of a port forward, e.g. `/ip4/203.0.113.7/tcp/4001`.',
  },
  {
    path: 'network.autonat',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'AutoNAT v2: peers dial this node back to confirm its public addresses (only confirmed ones are announced), and it does the same for them.',
  },
  {
    path: 'network.upnp',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'restart',
    description:
      'Ask the home router for a port forward (UPnP IGD; not NAT-PMP or PCP). The gateway search multicasts on the LAN. A forwarded port makes the node publicly reachable at once: no relay needed.',
  },
  {
    path: 'network.holePunch',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Hole punching: replace a relayed connection by a direct one where the NATs allow it (DCUtR with a public peer; a TCP simultaneous open between two NATed ones, see [networking.md](networking.md)).',
  },
  {
    path: 'network.relay.enabled',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Circuit relay v2: dial and be reached through relays, and relay for others (see `network.relay.server`).',
  },
  {
    path: 'network.relay.server',
    type: { kind: 'enum', values: ['auto', 'on', 'off'] },
    default: constant('auto'),
    reload: 'restart',
    description:
      'Relay for other peers: `auto` unless this node found out it is not publicly reachable; `on` always; `off` never.',
  },
  {
    path: 'network.relay.reservations',
    type: int(0, 16),
    default: constant(DEFAULT_RELAY_RESERVATIONS),
    reload: 'restart',
    description:
      'Relays to hold a reservation on, so peers reach this node through them when it is behind NAT; renewed, and replaced when a relay goes away. Only with `network.bootstrap` peers; set 0 on a public node given `network.announce`.',
  },
  {
    path: 'network.relay.maxReservations',
    type: int(1, 100_000),
    default: constant(DEFAULT_RELAY_MAX_RESERVATIONS),
    reload: 'restart',
    description: 'Reservations this node grants other peers at once, as a relay.',
  },
  {
    path: 'network.relay.circuitDurationMs',
    type: int(1_000, MS_PER_DAY),
    default: constant(DEFAULT_RELAY_CIRCUIT_DURATION_MS),
    reload: 'restart',
    description: 'Longest a connection relayed by this node lasts before it is reset.',
  },
  {
    path: 'network.relay.circuitBytes',
    type: int(1_024, 2 ** 40),
    default: constant(DEFAULT_RELAY_CIRCUIT_BYTES),
    reload: 'restart',
    description:
      'Bytes a connection relayed by this node may carry, both directions together, before it is reset: announcements and small tasks fit; large transfers need a direct connection.',
  },
  {
    path: 'network.relay.maxCircuitsPerPeer',
    type: int(1, 1_024),
    default: constant(DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER),
    reload: 'restart',
    description:
      'Connections one peer may have relayed through this node at once: with `circuitBytes` and `circuitDurationMs`, what one peer can take of the relay.',
  },
  {
    path: 'network.relay.maxCircuits',
    type: int(1, 100_000),
    default: constant(DEFAULT_RELAY_MAX_CIRCUITS),
    reload: 'restart',
    description:
      "Connections this node relays at once, over all peers: with `circuitBytes` and `circuitDurationMs`, what the relay as a whole gives. There is no cap in bytes per second (libp2p has none); set one in the machine's traffic shaper.",
  },
  {
    path: 'network.relay.maxTaskBytes',
    type: int(0, 2 ** 30),
    default: constant(DEFAULT_RELAYED_TASK_MAX_BYTES),
    reload: 'restart',
    description:
      'Largest task input (as JSON) this node sends to a peer it reaches only through a relay; larger tasks wait for a direct connection (hole punching) or go to a peer that has one. 0: no tasks over relays.',
  },
  {
    path: 'network.psk',
    type: { kind: 'string', pattern: /^[0-9a-fA-F]{64}$/, expected: '64 hexadecimal digits', optional: true },
    default: constant(''),
    reload: 'restart',
    description:
      'Private network: a 32-byte pre-shared key in hex; only nodes with the same key can connect (libp2p pnet). Empty: a public network. Prefer `network.pskFile`.',
    secret: true,
  },
  {
    path: 'network.pskFile',
    type: { kind: 'path', optional: true },
    default: constant(''),
    reload: 'restart',
    description:
      'Private network: a file holding the pre-shared key, in the libp2p pnet format (`generatePsk()`, go-ipfs `swarm.key`) or as 64 hex digits. Not together with `network.psk`.',
  },
  {
    path: 'access.mode',
    type: { kind: 'enum', values: ['open', 'allowlist'] },
    default: constant('open'),
    reload: 'live',
    description:
      '`open`: any peer may send tasks here and receive them. `allowlist`: only the peers in `access.allowlist`; others get `ERR_ACCESS_DENIED`, and no task is sent or relayed to them.',
  },
  {
    path: 'access.allowlist',
    type: { kind: 'list', check: peerIdProblem, item: 'PeerId', items: 'PeerIds' },
    default: constant([]),
    reload: 'live',
    description: 'PeerIds admitted when `access.mode` is `allowlist`.',
  },
  {
    path: 'protection.tasksPerSecond',
    type: int(1, 1_000_000),
    default: constant(DEFAULT_RATE_LIMIT_PER_SECOND),
    reload: 'live',
    description:
      'Requests one peer may send per second on average (its token bucket refills at this rate); beyond it and its burst they are refused with `ERR_RATE_LIMITED` and a retry-after. Far above what a requester routing by free slots sends.',
  },
  {
    path: 'protection.burst',
    type: int(1, 10_000_000),
    default: constant(DEFAULT_RATE_LIMIT_BURST),
    reload: 'live',
    description: 'Requests one peer may send at once above `protection.tasksPerSecond` (the bucket size).',
  },
  {
    path: 'protection.maxOpenTasksPerPeer',
    type: int(1, 1_000_000),
    default: constant(DEFAULT_MAX_TASKS_PER_PEER),
    reload: 'live',
    description:
      'Tasks one requester may have open here at once, across all its streams and relays; more get `ERR_BUSY`. Requesters share the slots fairly whatever they queue.',
  },
  {
    path: 'protection.maxInputBytes',
    type: int(1_024, DEFAULT_TASK_MAX_FRAME_BYTES),
    default: constant(DEFAULT_TASK_MAX_FRAME_BYTES),
    reload: 'live',
    description:
      'Largest request taken from a peer, in bytes as it arrived (input and about 400 bytes of envelope), for task types without a cap in `protection.maxInputBytesByType`; larger ones get `ERR_INPUT_TOO_LARGE`.',
  },
  {
    path: 'protection.maxInputBytesByType',
    type: { kind: 'list', check: inputCapProblem, item: 'type=bytes', items: 'type=bytes entries' },
    default: constant([]),
    reload: 'live',
    description: 'Caps of their own by task type, such as `ocr=8388608` or `embed=65536`.',
  },
  {
    path: 'protection.banMs',
    type: int(1_000, 30 * MS_PER_DAY),
    default: constant(DEFAULT_BAN_MS),
    reload: 'live',
    description:
      'How long a peer that abuses this node (floods it, ignores retry-after, sends malformed or forged frames) is first disconnected and refused; each further ban lasts 4 times the one before, up to `protection.maxBanMs`. Bans show in `node peers`.',
  },
  {
    path: 'protection.maxBanMs',
    type: int(1_000, 365 * MS_PER_DAY),
    default: constant(DEFAULT_MAX_BAN_MS),
    reload: 'live',
    description: 'Longest ban.',
  },
  {
    path: 'protection.exempt',
    type: { kind: 'list', check: peerIdProblem, item: 'PeerId', items: 'PeerIds' },
    default: constant([]),
    reload: 'live',
    description:
      'PeerIds never rate limited, paced, held to the open-task quota or banned, whose priorities weigh in full in their share of the slots (your own nodes).',
  },
  {
    path: 'forwarding.enabled',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Relay tasks this node cannot run to a peer that can (and announce which task types it reaches that way). Tasks forwarded to a type this node runs are run either way.',
  },
  {
    path: 'forwarding.maxHops',
    type: int(1, 16),
    default: constant(DEFAULT_MAX_HOPS),
    reload: 'restart',
    description:
      'Links a task submitted here may travel to its provider (1: connected peers only), and the longest route this node announces.',
  },
  {
    path: 'liveness.idleMs',
    type: int(100, 600_000),
    default: constant(LIVENESS_IDLE_MS),
    reload: 'restart',
    description:
      'A provider with tasks of this node pending that sent nothing for this long is pinged (a liveness ping).',
  },
  {
    path: 'liveness.timeoutMs',
    type: int(100, 600_000),
    default: constant(LIVENESS_PING_TIMEOUT_MS),
    reload: 'restart',
    description:
      "A liveness ping unanswered this long fails the provider's tasks over to other peers (`ERR_PEER_UNRESPONSIVE`); raise it, with `liveness.idleMs`, where loaded agents answer slowly.",
  },
  {
    path: 'heartbeat.intervalMs',
    type: int(100, 3_600_000),
    default: constant(DEFAULT_HEARTBEAT_INTERVAL_MS),
    reload: 'live',
    description: 'Ping every connected peer this often (RTT in the peer directory).',
  },
  {
    path: 'heartbeat.timeoutMs',
    type: int(50, 600_000),
    default: constant(DEFAULT_HEARTBEAT_TIMEOUT_MS),
    reload: 'live',
    description: 'A ping slower than this marks the peer failed; must be below `heartbeat.intervalMs`.',
  },
  {
    path: 'reconnect.initialDelayMs',
    type: int(10, 3_600_000),
    default: constant(DEFAULT_RECONNECT_INITIAL_DELAY_MS),
    reload: 'live',
    description: 'First delay before redialling a failed peer.',
  },
  {
    path: 'reconnect.maxDelayMs',
    type: int(10, 3_600_000),
    default: constant(DEFAULT_RECONNECT_MAX_DELAY_MS),
    reload: 'live',
    description: 'Largest delay between redials; must be at least `reconnect.initialDelayMs`.',
  },
  {
    path: 'reconnect.maxAttempts',
    type: int(0, 1_000),
    default: constant(DEFAULT_RECONNECT_MAX_ATTEMPTS),
    reload: 'live',
    description:
      'Dials of a failed peer (the first at once) before it is forgotten; 0 forgets it at once (discovery can bring it back).',
  },
  {
    path: 'health.intervalMs',
    type: int(1_000, MS_PER_DAY),
    default: constant(DEFAULT_HEALTH_INTERVAL_MS),
    reload: 'live',
    description: 'Period of the component health checks.',
  },
  {
    path: 'health.checkTimeoutMs',
    type: int(10, 60_000),
    default: constant(DEFAULT_HEALTH_CHECK_TIMEOUT_MS),
    reload: 'live',
    description: 'Time box of one check; a slower check reports `unhealthy`. Below `health.intervalMs`.',
  },
  {
    path: 'metrics.enabled',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'restart',
    description:
      'Serve Prometheus metrics at `http://<metrics.host>:<metrics.port>/metrics` (the `@p2p-ai/metrics` plug-in, loaded only when on). Off by default: nothing listens that was not asked for, and two nodes on one machine do not fight over the port.',
  },
  {
    path: 'metrics.host',
    type: { kind: 'string', pattern: /^[A-Za-z0-9.:-]+$/, expected: 'an IP address or host name' },
    default: constant(DEFAULT_METRICS_HOST),
    reload: 'restart',
    description:
      'Address the metrics endpoint listens on. Loopback by default; to let a Prometheus on another machine scrape, give `0.0.0.0` (or one interface) and set `metrics.tokenFile`.',
  },
  {
    path: 'metrics.port',
    type: int(0, 65_535),
    default: constant(DEFAULT_METRICS_PORT),
    reload: 'restart',
    description: 'Port of the metrics endpoint; 0 picks a free one.',
  },
  {
    path: 'metrics.tokenFile',
    type: { kind: 'path', optional: true },
    default: constant(''),
    reload: 'restart',
    description:
      'A file holding a bearer token (its first line) that scrapes must send as `Authorization: Bearer <token>` (Prometheus: `authorization.credentials_file`). Empty: no token.',
  },
  {
    path: 'dashboard.enabled',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'restart',
    description:
      'Serve the dashboard at `http://127.0.0.1:<dashboard.port>/` (the `@p2p-ai/dashboard` plug-in, loaded only when on; `p2p-ai-agents dashboard` also starts it on a running node). Loopback only, behind a one-time login link.',
  },
  {
    path: 'dashboard.port',
    type: int(0, 65_535),
    default: constant(DEFAULT_DASHBOARD_PORT),
    reload: 'restart',
    description: 'Port of the dashboard on 127.0.0.1; 0 picks a free one.',
  },
  {
    path: 'dashboard.historyDays',
    type: int(1, 365),
    default: constant(DEFAULT_DASHBOARD_HISTORY_DAYS),
    reload: 'restart',
    description:
      'Days of metrics history the dashboard keeps in `dashboard-history.db` in the data directory, downsampled as it ages (5 s points for a day, 1 min for a week, 10 min beyond).',
  },
  {
    path: 'alerts.enabled',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'live',
    description:
      'Evaluate the alert conditions below: each alert is raised and cleared as a WARN log line, listed by `node status` and exported as `p2p_ai_alert_active`. Every `alerts` setting changes at run time.',
  },
  {
    path: 'alerts.intervalMs',
    type: int(100, 3_600_000),
    default: constant(DEFAULT_ALERT_INTERVAL_MS),
    reload: 'live',
    description: 'How often the alert conditions are evaluated.',
  },
  {
    path: 'alerts.forMs',
    type: int(0, MS_PER_DAY),
    default: constant(DEFAULT_ALERT_FOR_MS),
    reload: 'live',
    description:
      'How long a condition must hold, evaluation after evaluation, before its alert is raised; and how long it must stay cleared before the alert clears. Keeps a blip from raising anything.',
  },
  {
    path: 'alerts.hysteresisPercent',
    type: int(0, 50),
    default: constant(DEFAULT_ALERT_HYSTERESIS_PERCENT),
    reload: 'live',
    description:
      'An alert clears only once its value is this share of the threshold back on the good side (memory at 85 % clears below 76.5 %), so a value hovering at the threshold does not flap.',
  },
  {
    path: 'alerts.peersMin',
    type: int(0, 10_000),
    default: constant(DEFAULT_ALERT_PEERS_MIN),
    reload: 'live',
    description: '`peers_low` is raised while fewer peers than this are connected; 0 turns it off.',
  },
  {
    path: 'alerts.memoryPercent',
    type: int(1, 100),
    default: constant(DEFAULT_ALERT_MEMORY_PERCENT),
    reload: 'live',
    description:
      "`memory_high` is raised while more than this share of the machine's memory is in use (all processes; the operating system's available memory counts as free).",
  },
  {
    path: 'alerts.taskFailurePercent',
    type: int(1, 100),
    default: constant(DEFAULT_ALERT_TASK_FAILURE_PERCENT),
    reload: 'live',
    description:
      '`task_failure_rate_high` is raised while more than this share of the tasks finished in `alerts.taskFailureWindowMs` failed or timed out (tasks submitted here and tasks served for peers; cancelled ones do not count).',
  },
  {
    path: 'alerts.taskFailureWindowMs',
    type: int(1_000, MS_PER_DAY),
    default: constant(DEFAULT_ALERT_TASK_FAILURE_WINDOW_MS),
    reload: 'live',
    description: 'The window the task failure rate is measured over.',
  },
  {
    path: 'alerts.taskFailureMinTasks',
    type: int(1, 1_000_000),
    default: constant(DEFAULT_ALERT_TASK_FAILURE_MIN_TASKS),
    reload: 'live',
    description:
      'With fewer tasks finished in the window, the failure rate gives no verdict (the alert keeps its state).',
  },
  {
    path: 'alerts.eventLoopLagMs',
    type: int(1, 600_000),
    default: constant(DEFAULT_ALERT_EVENT_LOOP_LAG_MS),
    reload: 'live',
    description:
      "`event_loop_lag_high` is raised while the event loop's 99th percentile delay over an evaluation period exceeds this: the node is too busy to answer peers promptly.",
  },
  {
    path: 'alerts.queuePercent',
    type: int(1, 100),
    default: constant(DEFAULT_ALERT_QUEUE_PERCENT),
    reload: 'live',
    description:
      '`queue_full` is raised while the engine queue holds more than this share of `engine.maxQueueLength` (new tasks are about to be refused with `ERR_QUEUE_FULL`).',
  },
  {
    path: 'shutdown.deadlineMs',
    type: int(1_000, 600_000),
    default: constant(DEFAULT_SHUTDOWN_DEADLINE_MS),
    reload: 'live',
    description: 'Graceful shutdown finishes within this; in-flight tasks are cancelled at the deadline.',
  },
  {
    path: 'jobs.resumeOnStart',
    type: { kind: 'boolean' },
    default: constant(DEFAULT_JOB_RESUME_ON_START),
    reload: 'restart',
    description:
      'When the node starts, resume the jobs from files it left unfinished (stopped, or killed): items with a result are skipped. Off: they wait as `INTERRUPTED` for `job resume`.',
  },
  {
    path: 'jobs.maxInFlight',
    type: int(1, 100_000),
    default: constant(DEFAULT_JOB_MAX_IN_FLIGHT),
    reload: 'restart',
    description: 'Tasks of all running jobs out at once, at most, whatever slots the peers have free.',
  },
  {
    path: 'jobs.queuePerPeer',
    type: int(0, 64),
    default: constant(DEFAULT_JOB_QUEUE_PER_PEER),
    reload: 'restart',
    description:
      'Tasks a job queues at each provider beyond its free slots (its concurrency less its load), so a slot that frees is filled without waiting for a round trip. The least: a job of short tasks queues deeper, about 20 ms of their run time, up to 8.',
  },
  {
    path: 'engine.concurrency',
    type: int(1, 1024),
    default: constant(ENGINE_DEFAULT_CONCURRENCY),
    reload: 'restart',
    description: 'Tasks running at the same time.',
  },
  {
    path: 'engine.maxQueueLength',
    type: int(1, 1_000_000),
    default: constant(ENGINE_DEFAULT_MAX_QUEUE_LENGTH),
    reload: 'restart',
    description: 'Tasks that may wait in the queue; more are rejected with `ERR_QUEUE_FULL`.',
  },
  {
    path: 'engine.taskTimeoutMs',
    type: int(1, 3_600_000),
    default: constant(ENGINE_DEFAULT_TASK_TIMEOUT_MS),
    reload: 'restart',
    description: 'Default execution time limit of one task.',
  },
  {
    path: 'engine.resultTtlMs',
    type: int(1_000, 365 * MS_PER_DAY),
    default: constant(ENGINE_DEFAULT_RESULT_TTL_MS),
    reload: 'restart',
    description: 'How long finished results stay in the store.',
  },
  {
    path: 'engine.storeSubmittedTasks',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Keep the final records of tasks this node submitted to the network in `store/submitted` for `engine.resultTtlMs`, so `node.tasks` and the CLI find them after a restart. Off: memory only (the recent history), which saves a store write per task.',
  },
  {
    path: 'engine.storeServedTasks',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'restart',
    description:
      "Also keep the records of tasks run for other peers in the result store. Off: they stay in memory (the recent-task history) and never reach this node's disk; the requester holds the signed result.",
  },
  {
    path: 'tracing.enabled',
    type: { kind: 'boolean' },
    default: constant(true),
    reload: 'restart',
    description:
      'Record a span of every step of every task this node touches (submitted, attempted, relayed, queued, run), kept in `traces.db` in the data directory for `p2p-ai-agents task trace`. Needs the `@p2p-ai/tracing` package, which the CLI includes.',
  },
  {
    path: 'tracing.samplePercent',
    type: int(0, 100),
    default: constant(DEFAULT_TRACE_SAMPLE_PERCENT),
    reload: 'restart',
    description:
      "Percentage of the traces this node starts that are recorded; a task that arrives with a peer's sampling decision follows it.",
  },
  {
    path: 'tracing.retentionHours',
    type: int(1, 8_760),
    default: constant(DEFAULT_TRACE_RETENTION_HOURS),
    reload: 'restart',
    description: 'How long spans stay in `traces.db` before they are deleted.',
  },
  {
    path: 'tracing.otlp.endpoint',
    type: {
      kind: 'string',
      pattern: /^https?:\/\/\S+$/,
      expected: 'an http:// or https:// URL',
      optional: true,
    },
    default: constant(''),
    reload: 'restart',
    description:
      "Also export spans to this OpenTelemetry collector's OTLP/HTTP (protobuf) traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. Empty: no export.",
  },
  {
    path: 'tracing.otlp.headers',
    type: {
      kind: 'list',
      check: headerProblem,
      item: 'header as name=value',
      items: 'headers as name=value',
    },
    default: constant([]),
    reload: 'restart',
    description:
      'Headers sent with every export, as `name=value`, e.g. `authorization=Bearer <token>`. Secret: debug snapshots redact it.',
    secret: true,
  },
  {
    path: 'resources.intervalMs',
    type: int(500, 3_600_000),
    default: constant(DEFAULT_RESOURCES_INTERVAL_MS),
    reload: 'live',
    description:
      "How often the node measures the machine: CPU (its own and the machine's), memory, the data directory's disk use, load and battery.",
  },
  {
    path: 'limits.cpu',
    type: int(1, 100),
    default: constant(100),
    reload: 'live',
    description:
      "Share of the machine's CPU, in percent, the node may use for tasks: fewer tasks at once, fewer threads per model, and short pauses between tasks keep its average within it.",
  },
  {
    path: 'limits.memory',
    type: { kind: 'size', percentOf: "the machine's RAM" },
    default: constant(''),
    reload: 'live',
    description:
      'Memory for loaded models and running tasks: a model that does not fit is refused (`ERR_MODEL_TOO_LARGE`, the requester tries another peer) after idle models are unloaded, and no task starts while the node uses more. Empty: models may take half the RAM.',
  },
  {
    path: 'limits.disk',
    type: { kind: 'size', percentOf: "the data directory's disk" },
    default: constant(''),
    reload: 'live',
    description:
      'Disk space the data directory may take (stored results, models, caches): when it is over, the oldest stored results are deleted first. Empty: no limit.',
  },
  {
    path: 'limits.idleOnly',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'live',
    description:
      "Take tasks from peers only while the rest of the machine is idle (other processes' CPU below `limits.idleThreshold` for `limits.idleAfterMs`); pause within one `resources.intervalMs` when it is not.",
  },
  {
    path: 'limits.idleThreshold',
    type: int(1, 100),
    default: constant(DEFAULT_IDLE_THRESHOLD),
    reload: 'live',
    description: "Other processes' CPU, in percent of the machine, below which it counts as idle.",
  },
  {
    path: 'limits.idleAfterMs',
    type: int(0, MS_PER_DAY),
    default: constant(DEFAULT_IDLE_AFTER_MS),
    reload: 'live',
    description: 'How long the machine must have been idle before an idle-only node takes tasks again.',
  },
  {
    path: 'limits.windows',
    type: { kind: 'list', check: windowProblem, item: 'time window', items: 'time windows HH:MM-HH:MM' },
    default: constant([]),
    reload: 'live',
    description:
      'Take tasks from peers only within these local-time windows, e.g. `22:00-07:00` (across midnight). Empty: at any time.',
  },
  {
    path: 'limits.pauseOnBattery',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'live',
    description: 'Take no tasks from peers while the machine runs on battery (where the OS says so).',
  },
  {
    path: 'limits.pauseGraceMs',
    type: int(0, 3_600_000),
    default: constant(DEFAULT_PAUSE_GRACE_MS),
    reload: 'live',
    description:
      'When the node pauses, tasks of peers still running after this long are handed back (`ERR_BUSY`: the requester tries another peer); queued ones are handed back at once.',
  },
  {
    path: 'content.enabled',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'restart',
    description:
      "Exchange content by CID with the `@p2p-ai/content` plug-in (Helia: Bitswap and UnixFS on the node's own libp2p, blocks under `<dataDir>/content`): large task inputs and outputs travel as CIDs to and from peers that take content, and models are shared between peers (`models pull --from-swarm`). Loaded only when on. See docs/content.md.",
  },
  {
    path: 'content.inlineMaxBytes',
    type: int(1024, 64 * 1024 * 1024),
    default: constant(DEFAULT_CONTENT_INLINE_MAX_BYTES),
    reload: 'restart',
    description:
      'A task request or result whose signed envelope is larger than this carries its input or output by CID (to peers that announce content; others still get it inline while it fits a frame).',
  },
  {
    path: 'content.maxBytes',
    type: int(1024, Number.MAX_SAFE_INTEGER),
    default: constant(DEFAULT_CONTENT_MAX_BYTES),
    reload: 'restart',
    description:
      'Largest content this node fetches for one task input or output, or stores; announced to peers, which send nothing larger. Stored content also counts against `limits.disk`.',
  },
  {
    path: 'content.ttlMs',
    type: int(60_000, 365 * MS_PER_DAY),
    default: constant(DEFAULT_CONTENT_TTL_MS),
    reload: 'restart',
    description:
      "How long stored content (a task's input or output, data `put` by code) is kept before it is deleted; models' blocks stay while the model is registered.",
  },
  {
    path: 'models.autoFetch',
    type: { kind: 'boolean' },
    default: constant(false),
    reload: 'live',
    description:
      'With content on: a task this node runs that names a model it lacks fetches the model first from a peer that announces it (checked against its sha256, then registered and announced), instead of failing with `ERR_UNKNOWN_MODEL`.',
  },
  {
    path: 'log.level',
    type: { kind: 'enum', values: LOG_LEVELS },
    default: constant(DEFAULT_LOG_LEVEL),
    reload: 'live',
    description: 'Least severe level written.',
  },
  {
    path: 'log.format',
    type: { kind: 'enum', values: ['auto', 'json', 'pretty'] },
    default: constant('auto'),
    reload: 'restart',
    description: '`json` lines, `pretty` text, or `auto`: pretty on a terminal, JSON otherwise.',
  },
  {
    path: 'log.rotate.maxBytes',
    type: int(1_024, 1_099_511_627_776),
    default: constant(DEFAULT_LOG_MAX_BYTES),
    reload: 'restart',
    description:
      '`node.log` of a node run in the background (`node start --detach`, or `--supervise`) rolls over to a new file when it reaches this size, and at midnight.',
  },
  {
    path: 'log.rotate.maxAgeDays',
    type: int(1, 3_650),
    default: constant(DEFAULT_LOG_MAX_AGE_DAYS),
    reload: 'restart',
    description:
      'Rolled log files kept: at most this many, and none last written more than this many days ago (files of earlier runs too, checked at start and every hour); a new file starts every day, so fewer are kept when the size limit rolled over sooner, and the log never takes more than (this + 1) × `log.rotate.maxBytes`.',
  },
  {
    path: 'supervisor.restartDelayMs',
    type: int(10, 3_600_000),
    default: constant(DEFAULT_RESTART_DELAY_MS),
    reload: 'restart',
    description:
      'A node run in the background is restarted by its watchdog this long after a crash; the delay doubles with each crash in `supervisor.crashWindowMs`.',
  },
  {
    path: 'supervisor.maxRestartDelayMs',
    type: int(10, 86_400_000),
    default: constant(DEFAULT_MAX_RESTART_DELAY_MS),
    reload: 'restart',
    description: 'Longest wait before a restart.',
  },
  {
    path: 'supervisor.maxCrashes',
    type: int(1, 1_000),
    default: constant(DEFAULT_MAX_CRASHES),
    reload: 'restart',
    description:
      'The watchdog gives up (and says why in `node.log` and `node status`) when the node crashed this many times within `supervisor.crashWindowMs`.',
  },
  {
    path: 'supervisor.crashWindowMs',
    type: int(1_000, 86_400_000),
    default: constant(DEFAULT_CRASH_WINDOW_MS),
    reload: 'restart',
    description: 'The window in which crashes count towards `supervisor.maxCrashes`.',
  },
] satisfies FieldSpec[])

/** `network.maxConnections` → `P2P_AI_NETWORK__MAX_CONNECTIONS`. */
export function envName(path: string): string {
  return (
    ENV_PREFIX +
    path
      .split('.')
      .map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('__')
  )
}

/** Field by path. */
export const FIELDS_BY_PATH: ReadonlyMap<string, FieldSpec> = new Map(FIELDS.map((f) => [f.path, f]))

/** Field by environment variable name. */
export const FIELDS_BY_ENV: ReadonlyMap<string, FieldSpec> = new Map(FIELDS.map((f) => [envName(f.path), f]))

/** Paths of groups (`network`, `network.mdns`, ...), which must be mappings. */
export const GROUP_PATHS: ReadonlySet<string> = new Set(
  FIELDS.flatMap((f) => {
    const parts = f.path.split('.')
    return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('.'))
  }),
)

/** What a field expects, in words: `an integer between 1 and 10000`. */
export function describeType(type: FieldType): string {
  switch (type.kind) {
    case 'integer':
      return `an integer between ${type.min} and ${type.max}`
    case 'boolean':
      return 'true or false'
    case 'string':
      return type.expected ?? 'a non-empty string'
    case 'path':
      return 'a file system path'
    case 'enum':
      return `one of ${type.values.join(', ')}`
    case 'size':
      return `a size such as 4GiB or 512MB, or a share of ${type.percentOf} such as 50%; empty for no limit`
    case 'list':
      return `a list of ${type.items}`
  }
}
