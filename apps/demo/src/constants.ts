/** Exit codes of the demo. */
export const EXIT = {
  /** Everything the demo claims happened. */
  OK: 0,
  /** Something it set out to show did not happen (discovery, a task, the failover). */
  FAILED: 1,
  /** A bad option. */
  USAGE: 2,
  /** Ctrl-C (SIGINT) or SIGTERM. */
  INTERRUPTED: 130,
} as const

/** Task types the demo makes inputs for, in the order a mix cycles through them. */
export const DEMO_TYPES = ['mock', 'chunk', 'embed', 'ocr'] as const
export type DemoType = (typeof DEMO_TYPES)[number]

export const DEFAULT_NODES = 4
export const MAX_NODES = 10
export const DEFAULT_TASKS = 20
export const MAX_TASKS = 200

/**
 * Simulated inference time of a `mock` task: long enough that an agent can be killed in the
 * middle of one, short enough to keep the demo quick.
 */
export const MOCK_LATENCY_MS = 1000

/** Tasks each agent's engine runs at once. */
export const AGENT_CONCURRENCY = 2
/** How long an agent's engine lets a cancelled task's worker stop by itself (see agent.ts). */
export const AGENT_CANCEL_GRACE_MS = 15_000

/** Registry name of the embedding model the demo builds and every agent serves. */
export const EMBED_MODEL = 'demo-embed'
/** Its shape: a small BERT-style encoder, generated locally (random weights, real inference). */
export const EMBED_SHAPE = { hidden: 32, layers: 2, heads: 2 } as const

/** How long an agent may take from spawn to listening. */
export const AGENT_START_TIMEOUT_MS = 60_000
/** How long discovery may take before the demo gives up (the target is under 5 s). */
export const DISCOVERY_TIMEOUT_MS = 20_000
/** How long the tasks may take in all before the demo gives up. */
export const TASKS_TIMEOUT_MS = 180_000
/** How long a graceful stop of an agent may take before it is killed. */
export const STOP_TIMEOUT_MS = 10_000
/** Time a provider may take per attempt (queueing included). */
export const TASK_TIMEOUT_MS = 30_000
/** Largest difference allowed between an agent's embedding and the one computed here. */
export const EMBED_TOLERANCE = 1e-4
