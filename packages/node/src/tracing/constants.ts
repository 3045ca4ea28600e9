/** Defaults of the node's tracing. */

/** How long one link has to answer a `trace.query`; a peer that asks further gets as much per link. */
export const TRACE_HOP_TIMEOUT_MS = 2_000

/** Largest frame on the trace protocol: 512 spans of about 1 KB each fit with room to spare. */
export const TRACE_FRAME_BYTES = 1024 * 1024

/** The module a node loads its tracing from when `tracing.enabled` and no `tracing` is given in code. */
export const TRACING_MODULE = '@p2p-ai/tracing'
