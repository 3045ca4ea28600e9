/**
 * Construction options of the task exchange: their defaults and their validation, which fails
 * fast, before anything is built.
 */
import { InvalidOptionError, MAX_FORWARD_HOPS, type OpenEnvelopeOptions } from '@p2p-ai/protocol'
import { ANNOUNCE_MIN_INTERVAL_MS } from '../announce/constants.js'
import {
  DEFAULT_ACCEPT_TIMEOUT_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_HOPS,
  DEFAULT_MAX_TASKS_PER_PEER,
  DEFAULT_RATE_LIMIT_BURST,
  DEFAULT_RATE_LIMIT_PER_SECOND,
  DEFAULT_RELAYED_TASK_MAX_BYTES,
  DEFAULT_STREAM_IDLE_MS,
  DEFAULT_TASK_HISTORY,
  DEFAULT_TASK_MAX_FRAME_BYTES,
  DEFAULT_WAIT_FOR_PEER_MS,
  LIVENESS_IDLE_MS,
  LIVENESS_PING_TIMEOUT_MS,
} from './constants.js'
import type { ServingLimits } from './serve/admission.js'
import type { AccessPolicyInit } from './trust/access-policy.js'

/** Construction options of the exchange. */
export interface TaskExchangeInit {
  /**
   * Attempts per task in all, unless `submit` says otherwise.
   *
   * @default 4
   */
  maxAttempts?: number
  /**
   * How long a provider has to accept or reject a request before the task moves on.
   *
   * @default 3_000
   */
  acceptTimeoutMs?: number
  /**
   * How long `submit` waits for a capable peer, unless it says otherwise.
   *
   * @default 5_000
   */
  waitForPeerMs?: number
  /**
   * Outbound task streams idle this long are closed.
   *
   * @default 60_000
   */
  streamIdleMs?: number
  /**
   * A provider with tasks of this node pending that sent nothing for this long is pinged.
   *
   * @default 1_500
   */
  livenessIdleMs?: number
  /**
   * A liveness ping unanswered for this long counts the provider as gone: its stream is reset and
   * its tasks fail over (`ERR_PEER_UNRESPONSIVE`). Raise it where loaded agents answer slowly.
   *
   * @default 1_500
   */
  livenessTimeoutMs?: number
  /**
   * Capability announcements go to one peer at most once per this period, so a change (a task
   * type, a route learnt from a neighbour) waits up to this long per hop. Receivers take 2 a
   * second on average (burst 20): shorter is for tests of small swarms.
   *
   * @default 1_000
   */
  announceIntervalMs?: number
  /**
   * Keep the records of tasks run for other peers in the engine's result store. Otherwise they
   * are kept in memory only (the engine's recent history, which also answers a retried task id),
   * so strangers' inputs and outputs never reach this node's disk.
   *
   * @default false
   */
  storeServedTasks?: boolean
  /**
   * Largest frame on the task protocol, in bytes.
   *
   * @default 4_194_304
   */
  maxFrameBytes?: number
  /**
   * Tasks one requester may have open on this node, across all its streams and relays; beyond it
   * `ERR_BUSY` (`setServingLimits` changes it at run time).
   *
   * @default 1_024
   */
  maxTasksPerPeer?: number
  /**
   * Per-peer limits of serving others: request rate and input size (docs/delivery.md, "Rate
   * limits, quotas and bans"; `setServingLimits` changes them at run time).
   *
   * @default { tasksPerSecond: 5_000, burst: 10_000, maxInputBytes: maxFrameBytes }
   */
  serving?: ServingLimitsInit
  /**
   * Finished tasks `tasks.list()` remembers.
   *
   * @default 1_000
   */
  taskHistory?: number
  /** Announced in capabilities, e.g. `p2p-ai/0.1.0`. */
  agentVersion?: string
  /** Ed25519 implementation for verifying envelopes. @default the protocol's */
  crypto?: OpenEnvelopeOptions['crypto']
  /**
   * Links a task submitted here may travel to its provider, unless `submit` says otherwise (1:
   * connected peers only), and the longest route this node announces as reachable.
   *
   * @default 10
   */
  maxHops?: number
  /**
   * Pass on forwarded tasks this node cannot run itself, and announce the task types it reaches
   * that way (docs/protocol.md §2.5). Tasks forwarded to a type this node runs are run either way.
   *
   * @default true
   */
  relay?: boolean
  /**
   * Largest task input (as JSON, in bytes) sent to a peer reached only through a circuit relay;
   * larger tasks wait for a direct connection or go to a peer that has one. `0` sends none over
   * relays.
   *
   * @default 65_536
   */
  relayedMaxBytes?: number
  /**
   * Who may send tasks here and receive tasks from here: any peer, or an allowlist of PeerIds
   * (`setAccessPolicy` changes it at run time).
   *
   * @default { mode: 'open' }
   */
  access?: AccessPolicyInit
  /**
   * With a content plug-in: a task this node runs that names a model it lacks fetches the model
   * first from a peer that announces it (`models.autoFetch`); `setAutoFetchModels` changes it.
   *
   * @default false
   */
  autoFetchModels?: boolean
}

/** Per-peer limits of serving (see `TaskExchangeInit.serving`). */
export interface ServingLimitsInit {
  /**
   * Requests one peer may send per second on average; beyond it (and its burst) `ERR_RATE_LIMITED`.
   *
   * @default 5_000
   */
  tasksPerSecond?: number
  /**
   * Requests one peer may send at once above that rate.
   *
   * @default 10_000
   */
  burst?: number
  /**
   * Largest request this node takes, in bytes as it arrived (the input and about 400 bytes of
   * envelope), for task types without a cap of their own; beyond it `ERR_INPUT_TOO_LARGE`.
   *
   * @default the task frame limit (`maxFrameBytes`)
   */
  maxInputBytes?: number
  /** Caps of their own, by task type (`{ ocr: 8_388_608 }`). @default {} */
  maxInputBytesByType?: Readonly<Record<string, number>>
}

export type NumericInit = Required<
  Omit<
    TaskExchangeInit,
    'agentVersion' | 'crypto' | 'relay' | 'access' | 'storeServedTasks' | 'serving' | 'autoFetchModels'
  >
>

/** The serving limits with their defaults, validated (throws `ERR_INVALID_OPTION`). */
export function settleServingLimits(
  init: ServingLimitsInit,
  maxTasksPerPeer: number,
  maxFrameBytes: number,
): ServingLimits {
  const limits = {
    tasksPerSecond: init.tasksPerSecond ?? DEFAULT_RATE_LIMIT_PER_SECOND,
    burst: init.burst ?? DEFAULT_RATE_LIMIT_BURST,
    maxOpenTasks: maxTasksPerPeer,
    maxInputBytes: init.maxInputBytes ?? maxFrameBytes,
  }
  for (const [key, value] of Object.entries(limits)) positive(`serving.${key}`, value)
  const byType = new Map<string, number>()
  const given = init.maxInputBytesByType ?? {}
  if (typeof given !== 'object' || given === null) {
    throw new InvalidOptionError(
      'serving.maxInputBytesByType: expected an object of byte counts by task type',
    )
  }
  for (const [type, bytes] of Object.entries(given)) {
    positive(`serving.maxInputBytesByType.${type}`, bytes)
    byType.set(type, bytes)
  }
  return { ...limits, maxInputBytesByType: byType }
}

function positive(key: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidOptionError(`${key}: expected an integer ≥ 1, got ${String(value)}`)
  }
}

/** The numeric options with their defaults, validated (throws `ERR_INVALID_OPTION`). */
export function settleInit(init: TaskExchangeInit): NumericInit {
  const settled: NumericInit = {
    maxAttempts: init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    acceptTimeoutMs: init.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS,
    waitForPeerMs: init.waitForPeerMs ?? DEFAULT_WAIT_FOR_PEER_MS,
    streamIdleMs: init.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS,
    livenessIdleMs: init.livenessIdleMs ?? LIVENESS_IDLE_MS,
    livenessTimeoutMs: init.livenessTimeoutMs ?? LIVENESS_PING_TIMEOUT_MS,
    announceIntervalMs: init.announceIntervalMs ?? ANNOUNCE_MIN_INTERVAL_MS,
    maxFrameBytes: init.maxFrameBytes ?? DEFAULT_TASK_MAX_FRAME_BYTES,
    maxTasksPerPeer: init.maxTasksPerPeer ?? DEFAULT_MAX_TASKS_PER_PEER,
    taskHistory: init.taskHistory ?? DEFAULT_TASK_HISTORY,
    maxHops: init.maxHops ?? DEFAULT_MAX_HOPS,
    relayedMaxBytes: init.relayedMaxBytes ?? DEFAULT_RELAYED_TASK_MAX_BYTES,
  }
  validateInit(settled)
  if (init.storeServedTasks !== undefined && typeof init.storeServedTasks !== 'boolean') {
    throw new InvalidOptionError(`storeServedTasks: expected a boolean, got ${String(init.storeServedTasks)}`)
  }
  return settled
}

function validateInit(init: NumericInit): void {
  for (const [key, value] of Object.entries(init)) {
    const min = key === 'waitForPeerMs' || key === 'relayedMaxBytes' ? 0 : 1
    if (!Number.isSafeInteger(value) || value < min) {
      throw new InvalidOptionError(`${key}: expected an integer ≥ ${min}, got ${String(value)}`)
    }
  }
  if (init.maxHops > MAX_FORWARD_HOPS) {
    throw new InvalidOptionError(`maxHops: expected at most ${MAX_FORWARD_HOPS}, got ${init.maxHops}`)
  }
}
