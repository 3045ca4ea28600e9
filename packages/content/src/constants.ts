/**
 * Defaults of the content plug-in. The thresholds and limits users set live in the node's
 * configuration (`content.*`, `@p2p-ai/node`'s constants); these are the plug-in's own.
 */

/**
 * How content is cut into blocks: the UnixFS `unixfs-v1-2025` profile (IPIP-499) of the importer:
 * CIDv1, SHA-256, raw leaves of 1 MiB (1,048,576 bytes), balanced DAGs of at most 1,024 links per
 * node. Fixed, so that two nodes importing the same bytes (or the same model files) get the same
 * CID, and the same as `ipfs add` with that profile gives.
 */
export const IMPORT_PROFILE = 'unixfs-v1-2025'
/** Size of a leaf under {@link IMPORT_PROFILE}. */
export const CHUNK_SIZE = 1024 * 1024

/** Blocks fetched at once by one reader: the memory a fetch holds, at most, is about this many MiB. */
export const DEFAULT_FETCH_WINDOW = 16
/** A fetch fails (`ERR_CONTENT_UNAVAILABLE`) when a block it asked for has not arrived in this long. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000
/** How often expired content is deleted (and once at start). */
export const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000
/** How often the engine's models are looked at for new ones to give a CID. */
export const DEFAULT_MODEL_POLL_MS = 2_000
/** Deepest UnixFS DAG read: a balanced DAG of 1,024-link nodes is 5 deep at 1 PiB. */
export const MAX_DAG_DEPTH = 32
/** Most files shared for one model directory without a list of its files. */
export const MAX_MODEL_FILES = 256

/**
 * Bitswap streams per peer. Bitswap opens a stream per message; its own defaults (32 inbound)
 * reset streams when two nodes move a large file between them.
 */
export const BITSWAP_MAX_STREAMS = 1024

/** Directory names under `<dataDir>/content`. */
export const CONTENT_DIR_NAME = 'content'
export const BLOCKS_DIR_NAME = 'blocks'
export const MODEL_INDEX_DIR_NAME = 'models'
export const ROOTS_FILE_NAME = 'roots.json'
/** Where pulled models go, under the data directory (the CLI's models directory). */
export const MODELS_DIR_NAME = 'models'
