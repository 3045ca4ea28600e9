/**
 * The content plug-in of a node: Helia (Bitswap, UnixFS) on the node's own libp2p, an on-disk
 * block store under `<dataDir>/content`, content kept by root until it expires, and every model
 * the node serves shared by CID from its own files.
 */
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import type { ModelInfo } from '@p2p-ai/engine'
import {
  type ContentComponents,
  ContentDisabledError,
  type ContentFactory,
  type ContentGetOptions,
  type ContentPutOptions,
  type ContentRef,
  type ContentService,
  ContentTooLargeError,
  ContentUnavailableError,
  type ModelCid,
} from '@p2p-ai/node'
import { InvalidOptionError } from '@p2p-ai/protocol'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import {
  BLOCKS_DIR_NAME,
  CONTENT_DIR_NAME,
  DEFAULT_FETCH_WINDOW,
  DEFAULT_MODEL_POLL_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_SWEEP_INTERVAL_MS,
  MODEL_INDEX_DIR_NAME,
  MODELS_DIR_NAME,
  ROOTS_FILE_NAME,
} from './constants.js'
import { ModelNotInSwarmError } from './errors.js'
import { gatedLibp2p } from './gate.js'
import { type ContentHelia, contentHelia } from './helia.js'
import { type SwarmPulledModel, type SwarmPullProgress, writeModel } from './models/pull.js'
import { ModelShares } from './models/share.js'
import { blockKey, ContentBlockstore } from './store/blockstore.js'
import { RootIndex } from './store/roots.js'
import { importContent } from './unixfs/import.js'
import { fileRoot, type GetBlock, NotUnixFsFileError, readFile } from './unixfs/read.js'

/** Construction options of `heliaContent()`; the node's `content.*` settings give the rest. */
export interface HeliaContentInit {
  /** Where models pulled from the swarm are written, a directory each. @default `<dataDir>/models` */
  modelsDir?: string
  /**
   * Registers a model pulled from the swarm with the node's model backends (the CLI scans its
   * models directory again). Without it, models are still written, but `ensureModel` (for
   * `models.autoFetch`) cannot make them servable and answers `false`.
   */
  registerModel?: (model: SwarmPulledModel, signal: AbortSignal) => Promise<void>
  /** Blocks a fetch asks for ahead of what its reader took: its memory, in MiB. @default 16 */
  fetchWindow?: number
  /** A fetch fails (`ERR_CONTENT_UNAVAILABLE`) when a block it asked for has not come in this long. @default 30_000 */
  stallTimeoutMs?: number
  /** How often expired content is deleted. @default 600_000 (10 min) */
  sweepIntervalMs?: number
  /**
   * Blocks written less than this long ago are never deleted by a sweep, even when no root holds
   * them yet (a put or fetch in progress). @default 3_600_000 (1 h)
   */
  sweepGraceMs?: number
  /** How often the engine's models are looked at for new ones to share. @default 2_000 */
  modelPollMs?: number
  /** Give every model the node serves a CID and provide its blocks. @default true */
  shareModels?: boolean
}

/** Per-call options of `pullModel`. */
export interface PullFromSwarmOptions {
  /** Only a model whose file has this SHA-256 (64 lowercase hex digits). @default the announced one */
  sha256?: string
  onProgress?: (progress: SwarmPullProgress) => void
  signal?: AbortSignal
}

/** What the store holds. */
export interface ContentUsage {
  /** Roots kept: content put or fetched, and shared models. */
  readonly roots: number
  /** Bytes of content under the `data` roots (models' bytes are their files'). */
  readonly dataBytes: number
  /** Models shared by CID. */
  readonly models: number
}

type Settled = Required<Omit<HeliaContentInit, 'registerModel' | 'modelsDir'>> &
  Pick<HeliaContentInit, 'registerModel' | 'modelsDir'>

const SHA256 = /^[0-9a-f]{64}$/
const DEFAULT_SWEEP_GRACE_MS = 60 * 60_000

/**
 * The content plug-in for `createNode({ contentStore })`: Helia on the node's own libp2p.
 *
 * ```ts
 * const node = await createNode({ dataDir, contentStore: heliaContent() })
 * const ref = await node.content!.put(bytes)        // { cid, size }
 * for await (const chunk of other.content!.get(ref)) write(chunk)
 * ```
 *
 * @throws {InvalidOptionError} for a malformed option (at once, before any node is built)
 */
export function heliaContent(init: HeliaContentInit = {}): ContentFactory {
  const positive = (name: keyof HeliaContentInit, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidOptionError(`${name}: expected a positive integer, got ${String(value)}`)
    }
    return value
  }
  if (init.registerModel !== undefined && typeof init.registerModel !== 'function') {
    throw new InvalidOptionError('registerModel: expected a function')
  }
  const settled: Settled = {
    fetchWindow: positive('fetchWindow', init.fetchWindow, DEFAULT_FETCH_WINDOW),
    stallTimeoutMs: positive('stallTimeoutMs', init.stallTimeoutMs, DEFAULT_STALL_TIMEOUT_MS),
    sweepIntervalMs: positive('sweepIntervalMs', init.sweepIntervalMs, DEFAULT_SWEEP_INTERVAL_MS),
    sweepGraceMs:
      init.sweepGraceMs === 0 ? 0 : positive('sweepGraceMs', init.sweepGraceMs, DEFAULT_SWEEP_GRACE_MS),
    modelPollMs: positive('modelPollMs', init.modelPollMs, DEFAULT_MODEL_POLL_MS),
    shareModels: init.shareModels ?? true,
    ...(init.registerModel === undefined ? {} : { registerModel: init.registerModel }),
    ...(init.modelsDir === undefined ? {} : { modelsDir: init.modelsDir }),
  }
  return (components) => new HeliaContent(components, settled)
}

/** The content service `heliaContent()` builds; `node.content` is one when the node has the plug-in. */
export class HeliaContent implements ContentService {
  readonly maxBytes: number
  readonly inlineMaxBytes: number
  /** How long content put or fetched is kept. */
  readonly ttlMs: number
  readonly #c: ContentComponents
  readonly #init: Settled
  readonly #dir: string
  readonly #modelsDir: string
  readonly #blocks: ContentBlockstore
  readonly #sharding = new NextToLast()
  #roots: RootIndex | undefined
  #models: ModelShares | undefined
  #helia: ContentHelia | undefined
  #running: AbortController | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #pollTimer: NodeJS.Timeout | undefined
  #sweeping: Promise<unknown> | undefined
  #syncing: Promise<void> | undefined
  #modelsSeen = ''
  readonly #pulls = new Map<string, Promise<SwarmPulledModel>>()

  constructor(components: ContentComponents, init: Settled) {
    this.#c = components
    this.#init = init
    this.maxBytes = components.settings.maxBytes
    this.inlineMaxBytes = components.settings.inlineMaxBytes
    this.ttlMs = components.settings.ttlMs
    this.#dir = join(components.dataDir, CONTENT_DIR_NAME)
    this.#modelsDir = init.modelsDir ?? join(components.dataDir, MODELS_DIR_NAME)
    this.#blocks = new ContentBlockstore(join(this.#dir, BLOCKS_DIR_NAME))
  }

  async start(): Promise<void> {
    if (this.#running !== undefined) return
    const running = new AbortController()
    this.#running = running
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    await this.#blocks.open()
    this.#roots = await RootIndex.open(join(this.#dir, ROOTS_FILE_NAME))
    this.#models = new ModelShares(
      join(this.#dir, MODEL_INDEX_DIR_NAME),
      this.#blocks,
      this.#roots,
      this.#c.log,
    )
    await this.#models.load()
    const { transport, allows, log } = this.#c
    this.#helia = contentHelia(gatedLibp2p(transport, allows), this.#blocks, transport.logger)
    await this.#helia.helia.start()
    this.#sweepTimer = setInterval(() => this.#sweepInBackground(), this.#init.sweepIntervalMs)
    this.#sweepTimer.unref()
    // Content that expired while the node was down goes now, without holding up the start.
    setImmediate(() => this.#sweepInBackground())
    if (this.#init.shareModels) {
      this.#pollTimer = setInterval(() => this.#syncInBackground(), this.#init.modelPollMs)
      this.#pollTimer.unref()
      this.#syncInBackground()
    }
    log.debug({ dir: this.#dir }, 'content store started')
  }

  async stop(): Promise<void> {
    const running = this.#running
    if (running === undefined) return
    this.#running = undefined
    running.abort()
    clearInterval(this.#sweepTimer)
    clearInterval(this.#pollTimer)
    await Promise.allSettled([this.#syncing, this.#sweeping, ...this.#pulls.values()])
    await this.#roots?.flush()
    await this.#helia?.helia.stop()
  }

  async put(
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: ContentPutOptions = {},
  ): Promise<ContentRef> {
    const { helia, roots } = this.#live()
    const limit = (bytes: number): void => {
      options.signal?.throwIfAborted()
      if (bytes > this.maxBytes) {
        throw new ContentTooLargeError(
          `the content is over ${this.maxBytes} bytes, the most this node stores`,
        )
      }
      this.#checkDisk(bytes)
    }
    if (data instanceof Uint8Array) limit(data.byteLength)
    const imported = await importContent(data, helia.helia.blockstore, limit)
    const ref = { cid: imported.cid.toString(), size: imported.size }
    roots.keepData(ref.cid, Date.now() + (options.ttlMs ?? this.ttlMs), ref.size, options.hold === true)
    return ref
  }

  async *get(ref: ContentRef | string, options: ContentGetOptions = {}): AsyncGenerator<Uint8Array> {
    const { roots } = this.#live()
    const cid = parseCid(typeof ref === 'string' ? ref : ref.cid)
    const declared = typeof ref === 'string' ? undefined : ref.size
    const maxBytes = Math.min(options.maxBytes ?? this.maxBytes, this.maxBytes)
    // Kept from now, so a sweep during the fetch leaves what arrived; a hold from before anything
    // can fail, so that its holder's `release` always has one to match.
    const keep = (): void =>
      roots.keepData(
        cid.toString(),
        Date.now() + (options.ttlMs ?? this.ttlMs),
        declared,
        options.hold === true,
      )
    if (options.hold === true) keep()
    if (declared !== undefined) this.#checkSize(cid, declared, maxBytes)
    const signal = AbortSignal.any([
      options.signal ?? new AbortController().signal,
      this.#live().running.signal,
    ])
    if (options.hold !== true) keep()
    const getBlock = this.#getBlock()
    let received = 0
    try {
      const root = await fileRoot(cid, getBlock, signal)
      if (declared !== undefined && root.size !== declared) {
        throw new ContentUnavailableError(
          `${cid} holds ${root.size} bytes, not the ${declared} its reference says`,
        )
      }
      this.#checkSize(cid, root.size, maxBytes)
      options.onProgress?.(0, root.size)
      for await (const bytes of readFile(root, getBlock, { window: this.#init.fetchWindow, signal })) {
        received += bytes.byteLength
        options.onProgress?.(received, root.size)
        yield bytes
      }
    } catch (err) {
      throw this.#fetchError(cid, err, options.signal)
    }
  }

  async release(ref: ContentRef | string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const { roots } = this.#live()
    const cid = parseCid(typeof ref === 'string' ? ref : ref.cid)
    if (!roots.release(cid.toString(), Date.now())) return false
    await this.#exclusive(() => this.#deleteUnreached(cid, options.signal))
    return true
  }

  async has(ref: ContentRef | string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    this.#live()
    const stack = [parseCid(typeof ref === 'string' ? ref : ref.cid)]
    while (stack.length > 0) {
      options.signal?.throwIfAborted()
      const cid = stack.pop() as CID
      if (!(await this.#blocks.has(cid))) return false
      if (cid.code !== dagPb.code) continue
      const node = dagPb.decode(await this.#localBlock(cid))
      for (const link of node.Links) stack.push(link.Hash)
    }
    return true
  }

  modelCids(): readonly ModelCid[] {
    return this.#models?.list() ?? []
  }

  async ensureModel(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.#init.registerModel === undefined || this.#offer(name, undefined) === undefined) return false
    await this.pullModel(name, options)
    return true
  }

  /**
   * Fetches the model `name` from a connected peer that announces it (the CID most of them
   * announce), into `<modelsDir>/<name>`, checks its model file against the announced SHA-256
   * (or `sha256`), registers it (`registerModel`) and shares it in turn. One pull per name at a time:
   * a second call joins the first.
   *
   * @throws {ModelNotInSwarmError} when no connected peer announces it
   * @throws `ERR_MODEL_CORRUPT` when no file has the SHA-256, `ERR_CONTENT_UNAVAILABLE` when the fetch fails
   */
  pullModel(name: string, options: PullFromSwarmOptions = {}): Promise<SwarmPulledModel> {
    if (options.sha256 !== undefined && !SHA256.test(options.sha256)) {
      return Promise.reject(new InvalidOptionError('sha256: expected 64 lowercase hex digits'))
    }
    let pull = this.#pulls.get(name)
    if (pull === undefined) {
      pull = this.#pull(name, options).finally(() => this.#pulls.delete(name))
      this.#pulls.set(name, pull)
    }
    return pull
  }

  /** Roots, bytes and shared models in the store now. */
  usage(): ContentUsage {
    const roots = this.#roots?.list() ?? []
    return {
      roots: roots.length,
      dataBytes: roots.reduce((n, r) => n + (r.kind === 'data' ? (r.size ?? 0) : 0), 0),
      models: this.#models?.list().length ?? 0,
    }
  }

  /**
   * Deletes expired content now: roots past their time are dropped, then every block no kept root
   * reaches (older than `sweepGraceMs`). Runs on its own every `sweepIntervalMs`.
   */
  sweep(now = Date.now()): Promise<{ readonly expired: number; readonly deleted: number }> {
    return this.#exclusive(() => this.#sweep(now))
  }

  /** Runs `fn` when no sweep or release is deleting blocks, and none starts until it is done. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#sweeping !== undefined) await this.#sweeping.catch(() => {})
    const running = fn()
    this.#sweeping = running
    try {
      return await running
    } finally {
      this.#sweeping = undefined
    }
  }

  /**
   * Deletes the blocks of the DAG under `root` (no longer kept) that no kept root reaches. Unlike
   * the sweep, no grace: these blocks were written for that root, which is done with.
   */
  async #deleteUnreached(root: CID, signal: AbortSignal | undefined): Promise<void> {
    const { roots } = this.#live()
    const mine = new Map<string, CID>()
    await this.#mark(root, new Set(), mine)
    const live = new Set<string>()
    for (const kept of roots.list()) {
      signal?.throwIfAborted()
      await this.#mark(CID.parse(kept.cid), live)
    }
    let deleted = 0
    for (const [key, cid] of mine) {
      if (live.has(key)) continue
      if (!(await this.#blocks.files.has(cid))) continue
      await this.#blocks.files.delete(cid)
      deleted++
    }
    if (deleted > 0) this.#c.log.debug({ cid: root.toString(), deleted }, 'content released')
  }

  async #sweep(now: number): Promise<{ expired: number; deleted: number }> {
    const { roots } = this.#live()
    const expired = roots.expire(now)
    const live = new Set<string>()
    for (const root of roots.list()) await this.#mark(CID.parse(root.cid), live)
    let deleted = 0
    const cutoff = now - this.#init.sweepGraceMs
    for await (const { cid } of this.#blocks.files.getAll()) {
      if (live.has(blockKey(cid))) continue
      const { dir, file } = this.#sharding.encode(cid)
      const s = await stat(join(this.#blocks.files.path, dir, file)).catch(() => undefined)
      if (s === undefined || s.mtimeMs > cutoff) continue
      await this.#blocks.files.delete(cid)
      deleted++
    }
    await roots.flush()
    if (expired > 0 || deleted > 0) this.#c.log.debug({ expired, deleted }, 'content swept')
    return { expired, deleted }
  }

  /** Adds every block the DAG under `cid` reaches that is stored here to `live` (and to `cids`). */
  async #mark(root: CID, live: Set<string>, cids?: Map<string, CID>): Promise<void> {
    const stack = [root]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = blockKey(cid)
      if (live.has(key)) continue
      live.add(key)
      cids?.set(key, cid)
      if (cid.code !== dagPb.code || !(await this.#blocks.files.has(cid))) continue
      try {
        for (const link of dagPb.decode(await this.#localBlock(cid)).Links) stack.push(link.Hash)
      } catch {
        // A broken node holds nothing more.
      }
    }
  }

  async #pull(name: string, options: PullFromSwarmOptions): Promise<SwarmPulledModel> {
    const { running, helia } = this.#live()
    const offer = this.#offer(name, options.sha256)
    if (offer === undefined) {
      throw new ModelNotInSwarmError(
        `no connected peer announces model ${JSON.stringify(name)}${options.sha256 === undefined ? '' : ` with sha256 ${options.sha256}`}`,
      )
    }
    const signal = AbortSignal.any([
      running.signal,
      ...(options.signal === undefined ? [] : [options.signal]),
    ])
    const started = performance.now()
    let pulled: SwarmPulledModel
    try {
      pulled = await writeModel({
        name,
        cid: offer.cid,
        sha256: offer.sha256,
        dir: join(this.#modelsDir, name),
        getBlock: this.#getBlock(),
        blockstore: helia.helia.blockstore,
        window: this.#init.fetchWindow,
        signal,
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      })
    } catch (err) {
      throw this.#fetchError(offer.cid, err, options.signal)
    }
    this.#c.log.info(
      { model: name, cid: pulled.cid, peers: offer.peers, ms: Math.round(performance.now() - started) },
      'model pulled from the swarm',
    )
    if (this.#init.registerModel !== undefined) {
      await this.#init.registerModel(pulled, signal)
      await this.#syncModels(signal)
      // Shared from its files now: the copies fetched into the block store are not needed.
      const models = this.#models
      if (models?.get(name)?.cid === pulled.cid) {
        for (const leaf of models.leavesOf(name)) await this.#blocks.files.delete(leaf)
      }
    }
    return pulled
  }

  /** The CID and hash most connected, allowed peers announce for `name` (matching `sha256`). */
  #offer(name: string, sha256: string | undefined): { cid: CID; sha256: string; peers: number } | undefined {
    const votes = new Map<string, { cid: string; sha256: string; peers: number }>()
    for (const peer of this.#c.peers()) {
      if (peer.status !== 'connected' || !this.#c.allows(peer.peerId)) continue
      for (const model of peer.capabilities?.models ?? []) {
        if (model.id !== name || model.cid === undefined) continue
        if (sha256 !== undefined && model.sha256 !== sha256) continue
        const key = `${model.cid} ${model.sha256}`
        const vote = votes.get(key) ?? { cid: model.cid, sha256: model.sha256, peers: 0 }
        vote.peers++
        votes.set(key, vote)
      }
    }
    const best = [...votes.values()].sort((a, b) => b.peers - a.peers || (a.cid < b.cid ? -1 : 1))[0]
    return best === undefined ? undefined : { ...best, cid: CID.parse(best.cid) }
  }

  #syncInBackground(): void {
    if (this.#running === undefined || this.#syncing !== undefined) return
    this.#syncing = this.#syncModels(this.#running.signal)
      .catch((err: unknown) => {
        if (this.#running !== undefined) this.#c.log.warn({ err }, 'sharing the models by CID failed')
      })
      .finally(() => {
        this.#syncing = undefined
      })
  }

  async #syncModels(signal: AbortSignal): Promise<void> {
    const models: readonly ModelInfo[] = this.#c.engine.capabilities().models
    const seen = models
      .map((m) => `${m.name}:${m.sha256}:${m.files?.dir ?? ''}:${(m.files?.paths ?? []).join(',')}`)
      .sort()
      .join(' ')
    if (seen === this.#modelsSeen) return
    if (await this.#models?.sync(models, signal)) this.#c.capabilitiesChanged()
    this.#modelsSeen = seen
  }

  #sweepInBackground(): void {
    if (this.#running === undefined || this.#sweeping !== undefined) return
    this.sweep().catch((err: unknown) => this.#c.log.warn({ err }, 'sweeping the content store failed'))
  }

  /** One block, from the store or fetched from peers, waiting at most `stallTimeoutMs` for it. */
  #getBlock(): GetBlock {
    const { helia } = this.#live()
    const stall = this.#init.stallTimeoutMs
    return async (cid, signal) => {
      const within = AbortSignal.any([signal, AbortSignal.timeout(stall)])
      const chunks: Uint8Array[] = []
      for await (const chunk of helia.helia.blockstore.get(cid, { signal: within })) chunks.push(chunk)
      return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
    }
  }

  async #localBlock(cid: CID): Promise<Uint8Array> {
    const chunks: Uint8Array[] = []
    for await (const chunk of this.#blocks.get(cid)) chunks.push(chunk)
    return Buffer.concat(chunks)
  }

  /** Why a fetch failed, as the caller should see it: its own abort as it is, anything else coded. */
  #fetchError(cid: CID, err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted === true) return signal.reason ?? err
    const code = (err as { code?: unknown }).code
    if (code === ContentTooLargeError.code || code === ContentUnavailableError.code) return err
    if (code === 'ERR_MODEL_CORRUPT' || code === 'ERR_INVALID_OPTION') return err
    if (this.#running === undefined)
      return new ContentUnavailableError(`the node stopped while fetching ${cid}`)
    const e = err as Error
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      return new ContentUnavailableError(
        `no peer sent the blocks of ${cid} within ${this.#init.stallTimeoutMs} ms (does a connected peer have it?)`,
        { cause: err },
      )
    }
    if (err instanceof NotUnixFsFileError) return new ContentUnavailableError(e.message, { cause: err })
    return new ContentUnavailableError(`could not fetch ${cid}: ${e.message}`, { cause: err })
  }

  #checkSize(cid: CID, size: number, maxBytes: number): void {
    if (size > maxBytes) {
      throw new ContentTooLargeError(`${cid} is ${size} bytes; this node takes at most ${maxBytes}`)
    }
    this.#checkDisk(size)
  }

  #checkDisk(bytes: number): void {
    const left = this.#c.diskSpaceLeft?.()
    if (left !== undefined && bytes > left) {
      throw new ContentTooLargeError(`${bytes} bytes would take the data directory over its disk limit`)
    }
  }

  #live(): { helia: ContentHelia; roots: RootIndex; running: AbortController } {
    if (this.#helia === undefined || this.#roots === undefined || this.#running === undefined) {
      throw new ContentDisabledError('the content store is not running: start the node first')
    }
    return { helia: this.#helia, roots: this.#roots, running: this.#running }
  }
}

function parseCid(text: string): CID {
  try {
    return CID.parse(text)
  } catch {
    throw new InvalidOptionError(`not a CID: ${JSON.stringify(text.slice(0, 80))}`)
  }
}
