/** Checks a submission once, up front, so a malformed one throws before anything is sent. */

import type { JsonObject } from '@p2p-ai/protocol'
import {
  DEFAULT_PRIORITY,
  DEFAULT_TIMEOUT_MS,
  MAX_CONTEXT_LENGTH,
  MAX_FORWARD_HOPS,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
} from '@p2p-ai/protocol'
import { MAX_REDUNDANCY } from '../constants.js'
import { InvalidTargetError, InvalidTaskError, NondeterministicTaskError } from '../errors.js'
import type { RouteSpec } from '../route/router.js'
import { redundancyRefusal } from '../trust/agreement.js'
import type { ModelRequirement, SubmitOptions, TaskSubmission, TaskTarget } from '../types.js'

/** The settled, validated form of a submission. */
export interface TaskSpec extends RouteSpec {
  readonly id: string
  readonly type: string
  readonly input: JsonObject
  readonly priority: number
  readonly timeoutMs: number
  readonly target: TaskTarget
  readonly maxAttempts: number
  readonly waitForPeerMs: number
  /** Providers to run it on at once (verification by redundancy); 1 for a plain task. */
  readonly redundancy: number
  /**
   * A task submitted before the node stopped without a graceful shutdown, resumed by this run:
   * how many times so far, and when it was first submitted.
   */
  readonly resumed?: { readonly count: number; readonly submittedAt: number }
  /**
   * Submitted with `listed: false`: its caller keeps the record (a job's item). A run on this
   * node's engine then keeps its result in memory only, not in the engine's result store as well.
   */
  readonly unlisted?: true
}

const TASK_ID = /^[A-Za-z0-9_-]{8,64}$/
const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/
const SHA256 = /^[0-9a-f]{64}$/
const MODEL_KIND = /^[A-Za-z0-9._-]{1,64}$/
/** More attempts than this is a retry storm, not resilience. */
const MAX_ATTEMPTS_LIMIT = 32

export interface SubmissionDefaults {
  id(): string
  maxAttempts: number
  waitForPeerMs: number
  maxHops: number
}

/**
 * @throws {InvalidTaskError} for a malformed task or option
 * @throws {InvalidTargetError} for a target that is not `'auto'`, `'local'` or a PeerId
 * @throws {NondeterministicTaskError} for redundancy over a run that cannot repeat itself
 */
export function validateSubmission(
  task: TaskSubmission,
  options: SubmitOptions,
  defaults: SubmissionDefaults,
): TaskSpec {
  if (task === null || typeof task !== 'object') throw new InvalidTaskError('a task must be an object')
  const target = options.target ?? 'auto'
  if (target !== 'auto' && target !== 'local' && (typeof target !== 'string' || !PEER_ID.test(target))) {
    throw new InvalidTargetError(`target: expected 'auto', 'local' or a PeerId, got ${describe(target)}`)
  }
  const { type, input } = task
  if (typeof type !== 'string' || type.length > 64 || !TASK_TYPE.test(type)) {
    throw new InvalidTaskError(`type: expected a task type like "embed" or "onnx.run", got ${describe(type)}`)
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidTaskError(`input: expected a JSON object, got ${describe(input)}`)
  }
  const id = task.id ?? defaults.id()
  if (typeof id !== 'string' || !TASK_ID.test(id)) {
    throw new InvalidTaskError(`id: expected 8 to 64 characters from A-Z a-z 0-9 _ -, got ${describe(id)}`)
  }
  const priority = int('priority', task.priority, DEFAULT_PRIORITY, MIN_PRIORITY, MAX_PRIORITY)
  const timeoutMs = int('timeoutMs', task.timeoutMs, DEFAULT_TIMEOUT_MS, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)
  const maxAttempts = int('maxAttempts', options.maxAttempts, defaults.maxAttempts, 1, MAX_ATTEMPTS_LIMIT)
  const waitForPeerMs = int('waitForPeerMs', options.waitForPeerMs, defaults.waitForPeerMs, 0, MAX_TIMEOUT_MS)
  if (options.allowLocal !== undefined && typeof options.allowLocal !== 'boolean') {
    throw new InvalidTaskError(`allowLocal: expected a boolean, got ${describe(options.allowLocal)}`)
  }
  const maxHops = int('maxHops', options.maxHops, defaults.maxHops, 1, MAX_FORWARD_HOPS)
  const redundancy = int('redundancy', options.redundancy, 1, 1, MAX_REDUNDANCY)
  if (redundancy > 1 && target !== 'auto') {
    throw new InvalidTaskError(
      `redundancy: ${redundancy} providers need target 'auto', not ${describe(target)}`,
    )
  }
  if (options.agreement !== undefined && typeof options.agreement !== 'function') {
    throw new InvalidTaskError(
      `agreement: expected a function (a, b) => boolean, got ${describe(options.agreement)}`,
    )
  }
  if (options.modelSha256 !== undefined && !SHA256.test(options.modelSha256)) {
    throw new InvalidTaskError(
      `modelSha256: expected 64 lowercase hex digits, got ${describe(options.modelSha256)}`,
    )
  }
  const model = modelRequirement(options.model)
  if (redundancy > 1 && options.agreement === undefined) {
    const why = redundancyRefusal(type, input as Record<string, unknown>)
    if (why !== undefined) throw new NondeterministicTaskError(`redundancy: ${why}`)
  }
  return {
    id,
    type,
    input: input as JsonObject,
    priority,
    timeoutMs,
    target,
    maxAttempts,
    waitForPeerMs,
    allowLocal: options.allowLocal ?? true,
    modelSha256: options.modelSha256,
    ...(model === undefined ? {} : { model }),
    maxHops,
    redundancy,
    ...(options.listed === false ? { unlisted: true } : {}),
  } as TaskSpec
}

function modelRequirement(value: unknown): ModelRequirement | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidTaskError(
      `model: expected { family?, quantization?, minContextLength? }, got ${describe(value)}`,
    )
  }
  const { family, quantization, minContextLength, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new InvalidTaskError(`model.${unknown}: not a model requirement`)
  for (const [key, v] of [
    ['family', family],
    ['quantization', quantization],
  ] as const) {
    if (v !== undefined && (typeof v !== 'string' || !MODEL_KIND.test(v))) {
      throw new InvalidTaskError(`model.${key}: expected a name like "llama" or "Q4_K_M", got ${describe(v)}`)
    }
  }
  const ctx =
    minContextLength === undefined
      ? undefined
      : int('model.minContextLength', minContextLength, 0, 1, MAX_CONTEXT_LENGTH)
  return {
    ...(family === undefined ? {} : { family: family as string }),
    ...(quantization === undefined ? {} : { quantization: quantization as string }),
    ...(ctx === undefined ? {} : { minContextLength: ctx }),
  }
}

function int(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidTaskError(`${name}: expected an integer from ${min} to ${max}, got ${describe(value)}`)
  }
  return value
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}
