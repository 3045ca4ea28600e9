/** Defaults of the OpenAI-compatible API (docs/openai.md). */

/** Where the API is mounted when nothing else is said: OpenAI's own prefix. */
export const DEFAULT_OPENAI_BASE_PATH = '/v1'
/**
 * How long a chat completion may take, queueing and failover included: OpenAI's clients wait 10
 * minutes by default, and a CPU writes a long answer slowly.
 */
export const DEFAULT_GENERATE_TIMEOUT_MS = 600_000
/** How long an embeddings request may take. */
export const DEFAULT_EMBED_TIMEOUT_MS = 60_000
/** Largest request body, bytes: room for a long conversation or a big batch of texts. */
export const MAX_OPENAI_BODY_BYTES = 16 * 1024 * 1024
/** `owned_by` of every model: the swarm, not a company. */
export const OWNED_BY = 'p2p-ai'
/**
 * Response headers that say where a request went (OpenAI clients ignore them): the task id (for
 * `task status`) and, once known, the PeerId of the node that ran it.
 */
export const TASK_ID_HEADER = 'x-p2p-ai-task-id'
export const PEER_HEADER = 'x-p2p-ai-peer'
/** Request header that pins a request to `local` or a PeerId instead of the swarm's choice (`auto`). */
export const TARGET_HEADER = 'x-p2p-ai-target'
