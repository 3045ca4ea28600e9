/**
 * The seam between a node and a content plug-in (`@p2p-ai/content`: Helia on the node's own
 * libp2p). The node knows content only through these types: large task inputs and outputs travel
 * by CID through them (docs/protocol.md §2.9), and `node.content` gives code the same
 * `put`/`get` for data of its own (a job's checkpoints, say).
 */
import type { TaskEngine } from '@p2p-ai/engine'
import type { ContentRef } from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import type { NodeConfig } from '../config/types.js'
import type { PeerInfo } from '../peers/types.js'

export type { ContentRef }

/** Per-call options of `put`. */
export interface ContentPutOptions {
  /**
   * Keep the content at least this long, from now; a later `put` or `get` of the same content can
   * only extend it. Expired content is deleted by the store's sweep.
   *
   * @default the plug-in's `ttlMs` (24 h)
   */
  ttlMs?: number
  /**
   * Hold the content until `release(ref)` says the caller is done with it, which deletes it then
   * (unless someone else still keeps it); `ttlMs` still bounds the hold, for a holder that never
   * comes back. @default false
   */
  hold?: boolean
  signal?: AbortSignal
}

/** Per-call options of `get`. */
export interface ContentGetOptions {
  /** Refuse content larger than this (`ERR_CONTENT_TOO_LARGE`) before fetching a byte of it. */
  maxBytes?: number
  /**
   * A peer expected to have it (the requester of a task, the provider of a result). A hint: the
   * Helia plug-in asks every connected peer the access policy allows, this one among them.
   */
  from?: string
  /** Keep what was fetched at least this long. @default the plug-in's `ttlMs` */
  ttlMs?: number
  /**
   * Hold what is fetched until `release(ref)`, as `put`'s `hold`. The hold starts with the fetch:
   * release it whether or not the fetch completed. @default false
   */
  hold?: boolean
  /** Bytes so far and in all, as they arrive. */
  onProgress?: (receivedBytes: number, totalBytes: number) => void
  signal?: AbortSignal
}

/** Where a model's files are on this machine, for sharing them by CID. */
export interface ModelCid {
  /** The model's registry name. */
  readonly name: string
  /** SHA-256 of its model file, as announced. */
  readonly sha256: string
  /** The CID of its files (a UnixFS directory), as announced (`capabilities.models[].cid`). */
  readonly cid: string
}

/**
 * What a node and its task exchange use of a content plug-in. `put` and `get` are also the API
 * for code that moves large data of its own between peers by CID (`node.content`).
 */
export interface ContentService {
  /**
   * Largest content this node fetches for one task input or output (and stores from `put`),
   * announced as `capabilities.content.maxBytes`.
   */
  readonly maxBytes: number
  /**
   * A task request or result larger than this (its signed envelope, in bytes) carries its input or
   * output by CID, to and from peers that take content; smaller ones travel inline.
   */
  readonly inlineMaxBytes: number
  /** Starts serving blocks (Bitswap) on the node's libp2p; called when the node starts. */
  start(): Promise<void>
  /** Stops serving; called when the node stops, before its libp2p does. */
  stop(): Promise<void>
  /**
   * Stores bytes (a whole buffer, or a stream read once, memory bounded) and returns their CID and
   * size. Deterministic: the same bytes give the same CID on every node. Peers can fetch them from
   * here by that CID until they expire.
   */
  put(data: Uint8Array | AsyncIterable<Uint8Array>, options?: ContentPutOptions): Promise<ContentRef>
  /**
   * The bytes of `ref` in order: from this node's store, or fetched from connected peers (that
   * this node's access policy allows), every block checked against its CID. Memory stays bounded
   * by a window of blocks whatever the size. A string is a CID of unknown size.
   *
   * @throws `ERR_CONTENT_UNAVAILABLE` when it cannot be had whole and in time, `ERR_CONTENT_TOO_LARGE`
   */
  get(ref: ContentRef | string, options?: ContentGetOptions): AsyncIterable<Uint8Array>
  /**
   * A holder (`put` or `get` with `hold`) is done with `ref`: once no holder is left and nobody
   * asked for it to be kept longer, it is deleted now rather than when it expires, every block of
   * it that no other kept content shares. Resolves whether it was deleted.
   */
  release?(ref: ContentRef | string, options?: { signal?: AbortSignal }): Promise<boolean>
  /** Whether every block of `ref` is in this node's store. */
  has(ref: ContentRef | string, options?: { signal?: AbortSignal }): Promise<boolean>
  /** The CIDs of this node's models, once known (announced with each model). */
  modelCids(): readonly ModelCid[]
  /**
   * Makes a model this node lacks available: fetched from a peer that announces it, checked
   * against its SHA-256, registered. Resolves `false` when no peer announces it (or the plug-in
   * cannot register models). Used for tasks naming such a model when `models.autoFetch` is on.
   */
  ensureModel?(name: string, options?: { signal?: AbortSignal }): Promise<boolean>
}

/** What a node gives its content plug-in to build on. */
export interface ContentComponents {
  /** The node's own libp2p: Bitswap runs on it, so pnet and the connection limits apply. */
  readonly transport: Transport
  readonly engine: TaskEngine
  /** The node's data directory: the block store lives under it. */
  readonly dataDir: string
  /** The node's `content` settings (thresholds, limits, how long content is kept). */
  readonly settings: Readonly<NodeConfig['content']>
  readonly log: Logger
  /** The node's access policy: blocks are exchanged only with peers it allows. */
  allows(peer: string): boolean
  /** Every peer the node knows, with its latest announcement (models and their CIDs). */
  peers(): readonly PeerInfo[]
  /** What this node announces changed (a model's CID became known): announce again. */
  capabilitiesChanged(): void
  /**
   * Bytes the data directory may still grow by under the owner's disk limit (`limits.disk`), or
   * undefined for no limit. Stored content counts against it.
   */
  diskSpaceLeft?(): number | undefined
}

/** Builds a node's content service; `content()` of `@p2p-ai/content` returns one. */
export type ContentFactory = (components: ContentComponents) => ContentService
