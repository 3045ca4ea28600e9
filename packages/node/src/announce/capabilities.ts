/**
 * This node's capabilities as the protocol announces them (docs/protocol.md §5.7): what its engine
 * runs (task types, models with their hashes) and how busy it is.
 */
import type { TaskEngine } from '@p2p-ai/engine'
import {
  type Capabilities,
  MAX_CONCURRENCY,
  MAX_MODELS,
  MAX_QUEUE_LENGTH,
  MAX_TASK_TYPES,
  PROTOCOL_MINOR,
  RESOURCES_MINOR,
  type ReachEntry,
  type ResourceFigures,
} from '@p2p-ai/protocol'

const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
const MODEL_ID = /^[A-Za-z0-9._:@/+-]{1,128}$/
const SHA256 = /^[0-9a-f]{64}$/

/**
 * This node's capabilities as the protocol announces them. Task types and models whose names the
 * wire format cannot carry are left out (they stay usable locally).
 */
export function capabilitiesOf(
  engine: TaskEngine,
  agentVersion: string | undefined,
  reach?: readonly ReachEntry[],
  resources?: ResourceFigures,
): Capabilities {
  const caps = engine.capabilities()
  const taskTypes = [...new Set(caps.taskTypes.map((t) => t.name).filter((name) => TASK_TYPE.test(name)))]
  const models: Capabilities['models'] = []
  const seen = new Set<string>()
  for (const model of caps.models) {
    if (!MODEL_ID.test(model.name) || !SHA256.test(model.sha256) || seen.has(model.name)) continue
    const types = [...new Set(model.taskTypes.filter((name) => TASK_TYPE.test(name)))].slice(
      0,
      MAX_TASK_TYPES,
    )
    if (types.length === 0) continue
    seen.add(model.name)
    models.push({
      id: model.name,
      sha256: model.sha256,
      taskTypes: types,
      ...(Number.isSafeInteger(model.sizeBytes) && model.sizeBytes >= 0 ? { bytes: model.sizeBytes } : {}),
    })
  }
  return {
    protocolMinor: PROTOCOL_MINOR,
    ...(agentVersion === undefined ? {} : { agentVersion: agentVersion.slice(0, 128) }),
    taskTypes: taskTypes.slice(0, MAX_TASK_TYPES),
    models: models.slice(0, MAX_MODELS),
    concurrency: clamp(caps.concurrency, 1, MAX_CONCURRENCY),
    load: {
      running: clamp(caps.running, 0, MAX_CONCURRENCY),
      queued: clamp(caps.queued, 0, MAX_QUEUE_LENGTH),
    },
    ...(reach === undefined || reach.length === 0 ? {} : { reach: [...reach] }),
    ...(resources === undefined ? {} : { resources }),
  }
}

/** The first minor version that knows `reach`: older peers get announcements without it. */
export const REACH_MINOR = 1

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(n)))
}

/**
 * The announcement for a peer that announced protocol minor `minor`: without what it would not
 * know. A paused node tells a peer below minor 4, which does not know `resources.paused`, that it
 * runs nothing, so that it routes no tasks here either.
 */
export function capabilitiesFor(caps: Capabilities, minor: number): Capabilities {
  let out = caps
  if (minor < RESOURCES_MINOR && out.resources !== undefined) {
    const { resources, ...rest } = out
    out = resources.paused === true ? { ...rest, taskTypes: [], models: [] } : rest
  }
  if (minor < REACH_MINOR && out.reach !== undefined) {
    const { reach: _, ...rest } = out
    out = rest
  }
  return out
}

/** Which of `capabilitiesFor`'s variants a peer of minor `minor` gets. */
export function variantOf(minor: number): 'full' | 'no-resources' | 'base' {
  return minor >= RESOURCES_MINOR ? 'full' : minor >= REACH_MINOR ? 'no-resources' : 'base'
}

/** The lowest minor of each variant. */
export const VARIANT_MINOR = { full: RESOURCES_MINOR, 'no-resources': REACH_MINOR, base: 0 } as const
