/** pino's levels, plus `silent` to turn logging off. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** All log levels, most verbose first. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze([
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
])

/**
 * Log output format: `json` writes JSON lines, `pretty` human-readable lines, `auto` picks
 * `pretty` when stderr is a terminal and `json` otherwise.
 */
export type LogFormat = 'auto' | 'json' | 'pretty'

/**
 * A complete, validated node configuration: what `loadConfig` returns and what a node runs with.
 * The YAML file has exactly this shape (every key optional); `createNode(init)` takes the same
 * shape as `NodeConfigInput`. docs/configuration.md lists every field with its environment variable.
 */
export interface NodeConfig {
  /** Where the node keeps its identity key and result store. */
  dataDir: string
  identity: {
    /** The Ed25519 key file; created on first start. Default: `<dataDir>/identity.json`. */
    keyFile: string
  }
  network: {
    /** Multiaddrs to listen on. */
    listen: string[]
    /** Peers to dial at start: multiaddrs ending in `/p2p/<peerId>`. */
    bootstrap: string[]
    /** Most open connections (peers). Changeable at run time. */
    maxConnections: number
    mdns: {
      /** Discover peers on the local network with multicast DNS. */
      enabled: boolean
      /**
       * Where mDNS runs: `lan` (every non-loopback IPv4 interface), `loopback`, an interface name
       * or address, or `auto` (`loopback` when only listening on loopback, else `lan`).
       */
      interface: string
      /** DNS-SD service name; only nodes with the same tag discover each other. */
      serviceTag: string
    }
    /** Run the Kademlia DHT for discovery beyond the LAN (peers, and providers of a capability). */
    dht: boolean
    /** `auto`: serve the DHT once publicly reachable; `client`: never; `server`: always. */
    dhtMode: 'auto' | 'client' | 'server'
    /** Addresses announced on top of those found, trusted without AutoNAT (a public address, a port forward). */
    announce: string[]
    /** AutoNAT v2: confirm public addresses by dial-back. */
    autonat: boolean
    /** Ask the home router for a port forward (UPnP IGD). */
    upnp: boolean
    /** DCUtR: replace relayed connections by direct ones where the NATs allow. */
    holePunch: boolean
    relay: {
      /** Circuit relay v2 client and server. */
      enabled: boolean
      /** Relay for others: `auto` unless known not publicly reachable, `on`, `off`. */
      server: 'auto' | 'on' | 'off'
      /** Relays to hold a reservation on. */
      reservations: number
      /** Reservations granted to others at once. */
      maxReservations: number
      /** Longest a relayed connection lasts. */
      circuitDurationMs: number
      /** Bytes a relayed connection may carry, both directions together. */
      circuitBytes: number
      /** Connections one peer may have relayed through this node at once. */
      maxCircuitsPerPeer: number
      /** Connections this node relays at once, over all peers. */
      maxCircuits: number
      /** Largest task input sent to a peer reached only through a relay. */
      maxTaskBytes: number
    }
    /** Private network key as 64 hex digits; empty for a public network. */
    psk: string
    /** File holding the private network key (pnet format or 64 hex digits); empty for none. */
    pskFile: string
  }
  access: {
    /** `open`: any peer; `allowlist`: only `allowlist` (others get `ERR_ACCESS_DENIED`). Changeable at run time. */
    mode: 'open' | 'allowlist'
    /** PeerIds admitted in `allowlist` mode. Changeable at run time. */
    allowlist: string[]
  }
  protection: {
    /** Requests one peer may send per second on average; beyond it `ERR_RATE_LIMITED`. Changeable at run time. */
    tasksPerSecond: number
    /** Requests one peer may send at once above that rate. Changeable at run time. */
    burst: number
    /** Tasks one requester may have open here at once; more get `ERR_BUSY`. Changeable at run time. */
    maxOpenTasksPerPeer: number
    /** Largest request taken from a peer, in bytes; larger ones get `ERR_INPUT_TOO_LARGE`. Changeable at run time. */
    maxInputBytes: number
    /** Caps of their own by task type, `type=bytes`. Changeable at run time. */
    maxInputBytesByType: string[]
    /** First ban of an abusive peer; each further one 4 times longer. Changeable at run time. */
    banMs: number
    /** Longest ban. Changeable at run time. */
    maxBanMs: number
    /** PeerIds never rate limited, held to the quota or banned; their priorities weigh in full. Changeable at run time. */
    exempt: string[]
  }
  forwarding: {
    /** Relay tasks this node cannot run towards a peer that can. */
    enabled: boolean
    /** Links a task submitted here may travel to its provider. */
    maxHops: number
  }
  liveness: {
    /** A provider with tasks of this node pending that sent nothing for this long is pinged. */
    idleMs: number
    /** A liveness ping unanswered this long fails the provider's tasks over to other peers. */
    timeoutMs: number
  }
  heartbeat: {
    /** Ping every connected peer this often; the RTT goes into the peer directory. */
    intervalMs: number
    /** A ping slower than this marks the peer failed and closes its connection. */
    timeoutMs: number
  }
  reconnect: {
    /** First delay before redialling a failed peer. */
    initialDelayMs: number
    /** Largest delay between redials (the delay doubles after each failure). */
    maxDelayMs: number
    /** Redials before the peer is forgotten; 0 disables reconnection. */
    maxAttempts: number
  }
  health: {
    /** Period of the health checks. */
    intervalMs: number
    /** Time box of each component's check. */
    checkTimeoutMs: number
  }
  metrics: {
    /** Serve Prometheus metrics (`@p2p-ai/metrics`) at `http://<host>:<port>/metrics`. */
    enabled: boolean
    /** Address the metrics endpoint listens on; loopback unless you mean otherwise. */
    host: string
    /** Its port; 0 picks a free one. */
    port: number
    /** A file holding a bearer token the scraper must send; empty for none. */
    tokenFile: string
  }
  dashboard: {
    /** Serve the dashboard (`@p2p-ai/dashboard`) on 127.0.0.1. */
    enabled: boolean
    /** Its port; 0 picks a free one. */
    port: number
    /** Days of metrics history it keeps. */
    historyDays: number
  }
  alerts: {
    /** Evaluate the alert conditions. Changeable at run time, as is every `alerts` setting. */
    enabled: boolean
    /** How often the conditions are evaluated. */
    intervalMs: number
    /** How long a condition must hold before its alert is raised (and its clearing before it clears). */
    forMs: number
    /** An alert clears only once its value is this share of the threshold back inside (hysteresis). */
    hysteresisPercent: number
    /** Raised while fewer peers than this are connected. */
    peersMin: number
    /** Raised while more than this share of the machine's memory is in use. */
    memoryPercent: number
    /** Raised while more than this share of the tasks finished in the window failed. */
    taskFailurePercent: number
    /** The window of the task failure rate. */
    taskFailureWindowMs: number
    /** Fewer tasks finished in the window give no verdict on the failure rate. */
    taskFailureMinTasks: number
    /** Raised while the event loop's p99 delay exceeds this. */
    eventLoopLagMs: number
    /** Raised while the engine's queue is fuller than this share of `engine.maxQueueLength`. */
    queuePercent: number
  }
  shutdown: {
    /** Graceful shutdown completes within this time; in-flight tasks are cancelled at the deadline. */
    deadlineMs: number
  }
  jobs: {
    /** At start, resume the jobs from files this node left unfinished (stopped, or killed). */
    resumeOnStart: boolean
    /** Tasks of all jobs out at once, at most. */
    maxInFlight: number
    /** Tasks a job queues at each provider beyond its concurrency. */
    queuePerPeer: number
  }
  engine: {
    /** Tasks running at the same time. */
    concurrency: number
    /** Tasks that may wait in the queue. */
    maxQueueLength: number
    /** Default execution time limit of one task. */
    taskTimeoutMs: number
    /** How long finished results stay in the store. */
    resultTtlMs: number
    /** Whether records of tasks this node submitted to the network go to `store/submitted`. */
    storeSubmittedTasks: boolean
    /** Whether records of tasks run for other peers go to the result store (else: memory only). */
    storeServedTasks: boolean
  }
  tracing: {
    /** Record spans of the tasks this node touches (with `@p2p-ai/tracing` installed). */
    enabled: boolean
    /** Percentage of new traces recorded; a peer's sampling decision is followed as it is. */
    samplePercent: number
    /** Hours spans stay in `traces.db` in the data directory. */
    retentionHours: number
    otlp: {
      /** An OpenTelemetry collector's OTLP/HTTP traces URL; empty: no export. */
      endpoint: string
      /** Headers sent with each export, as `name=value` (secret: redacted in debug snapshots). */
      headers: string[]
    }
  }
  resources: {
    /** How often the machine is measured. */
    intervalMs: number
  }
  /** What a contributor lends: see docs/contributing-resources.md. All changeable at run time. */
  limits: {
    /** Share of the machine's CPU for tasks, in percent. */
    cpu: number
    /** Memory for models and running tasks: `4GiB`, `50%`; empty for the default (models: half the RAM). */
    memory: string
    /** Disk space of the data directory: `20GiB`, `10%`; empty for no limit. */
    disk: string
    /** Take peers' tasks only while the rest of the machine is idle. */
    idleOnly: boolean
    /** Other processes' CPU (percent) below which the machine is idle. */
    idleThreshold: number
    /** Idle this long before taking tasks again. */
    idleAfterMs: number
    /** `HH:MM-HH:MM` local-time windows to take peers' tasks in; empty: always. */
    windows: string[]
    /** Take no peers' tasks on battery. */
    pauseOnBattery: boolean
    /** Running peers' tasks are handed back this long after pausing. */
    pauseGraceMs: number
  }
  content: {
    /** Exchange content by CID (`@p2p-ai/content`): large task inputs and outputs, shared models. */
    enabled: boolean
    /** A task request or result larger than this goes by CID (to peers that take content). */
    inlineMaxBytes: number
    /** Largest content fetched for one task input or output, or stored. */
    maxBytes: number
    /** How long stored content is kept. */
    ttlMs: number
  }
  models: {
    /** A task naming a model this node lacks fetches it from a peer that announces it first. */
    autoFetch: boolean
  }
  log: {
    level: LogLevel
    format: LogFormat
    /** Rotation of `node.log` for a node run in the background (by the CLI's watchdog). */
    rotate: {
      /** A new file when it reaches this size (and at midnight). */
      maxBytes: number
      /** Rolled files kept: none older than this many days. */
      maxAgeDays: number
    }
  }
  /** The CLI's watchdog of a node run in the background (`node start --detach`). */
  supervisor: {
    /** First wait before restarting a crashed node; doubles with each crash in the window. */
    restartDelayMs: number
    /** Longest wait before a restart. */
    maxRestartDelayMs: number
    /** Crashes within `crashWindowMs` after which the watchdog gives up. */
    maxCrashes: number
    /** The window crashes are counted in. */
    crashWindowMs: number
  }
}

/** Every field optional, recursively: the shape of the YAML file and of `createNode(init)`. */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K]
}

/** A partial configuration: the YAML file's shape, and the config part of `createNode(init)`. */
export type NodeConfigInput = DeepPartial<NodeConfig>
