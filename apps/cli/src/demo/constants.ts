/** Defaults and limits of the demo: `demo run` (the narrated run) and the demo network commands. */

/** Task types the demo makes inputs for (and checks the outputs of). */
export const DEMO_TYPES = ['mock', 'chunk', 'embed', 'ocr', 'tokenize'] as const
export type DemoType = (typeof DEMO_TYPES)[number]

/** The mix of `demo run`, cycled through in this order. */
export const DEFAULT_RUN_TYPES: readonly DemoType[] = ['mock', 'chunk', 'embed', 'ocr']
/** Agents of `demo run`. */
export const DEFAULT_RUN_NODES = 4
export const MAX_RUN_NODES = 10
/** Tasks of `demo run`. */
export const DEFAULT_RUN_TASKS = 20
export const MAX_RUN_TASKS = 200

/** Nodes of `demo start` and `demo interactive`. */
export const DEFAULT_NETWORK_NODES = 3
export const MAX_NETWORK_NODES = 16
/** Tasks of `demo tasks`. */
export const DEFAULT_NETWORK_TASKS = 10

/**
 * Simulated inference time of a `mock` task: long enough that an agent can be killed in the
 * middle of one, short enough to keep the demo quick.
 */
export const MOCK_LATENCY_MS = 1000

/** Tasks each demo node's engine runs at once. */
export const NODE_CONCURRENCY = 2

/** Registry name of the embedding model the demo builds and every node serves. */
export const DEMO_MODEL = 'demo-embed'
/** Its shape: a small BERT-style encoder, generated locally (random weights, real inference). */
export const DEMO_MODEL_SHAPE = { hidden: 32, layers: 2, heads: 2 } as const

/** How long a node may take from spawn to ready. */
export const NODE_START_TIMEOUT_MS = 60_000
/** How long discovery may take before `demo run` gives up (the target is under 5 s). */
export const DISCOVERY_TIMEOUT_MS = 20_000
/** How long `demo start` waits for its nodes to see each other. */
export const MESH_TIMEOUT_MS = 20_000
/** How long the tasks of `demo run` may take in all before it gives up. */
export const TASKS_TIMEOUT_MS = 180_000
/** How long a graceful stop of a node may take before it is killed. */
export const STOP_TIMEOUT_MS = 15_000
/** Time a provider may take per attempt (queueing included). */
export const TASK_TIMEOUT_MS = 30_000
/** Largest difference allowed between a node's embedding and the one computed here. */
export const EMBED_TOLERANCE = 1e-4
