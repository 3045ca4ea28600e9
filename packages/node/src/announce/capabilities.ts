/**
 * This node's capabilities as the protocol announces them (docs/protocol.md §5.7): what its engine
 * runs (task types, models with their hashes) and how busy it is.
 */
import type { ModelInfo, TaskEngine } from '@p2p-ai/engine'
import {
  type Capabilities,
  CONTENT_CID_PATTERN,
  CONTENT_MINOR,
  FORWARDING_MINOR,
  MAX_CONCURRENCY,
  MAX_CONTEXT_LENGTH,
  MAX_MODELS,
  MAX_QUEUE_LENGTH,
  MAX_TASK_TYPES,
  PROTOCOL_MINOR,
  RESOURCES_MINOR,
  type ReachEntry,
  type ResourceFigures,
  STREAMING_MINOR,
} from '@p2p-ai/protocol'

const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
const MODEL_ID = /^[A-Za-z0-9._:@/+-]{1,128}$/
const SHA256 = /^[0-9a-f]{64}$/
const MODEL_KIND = /^[A-Za-z0-9._-]{1,64}$/

/** What a content plug-in adds to an announcement (minor 5): that it takes content, and model CIDs. */
export interface ContentAnnouncement {
  readonly maxBytes: number
  modelCids(): ReadonlyArray<{ readonly name: string; readonly sha256: string; readonly cid: string }>
}

/**
 * This node's capabilities as the protocol announces them. Task types and models whose names the
 * wire format cannot carry are left out (they stay usable locally).
 */
export function capabilitiesOf(
  engine: TaskEngine,
  agentVersion: string | undefined,
  reach?: readonly ReachEntry[],
  resources?: ResourceFigures,
  content?: ContentAnnouncement,
): Capabilities {
  const caps = engine.capabilities()
  const cids = new Map<string, string>()
  for (const m of content?.modelCids() ?? [])
    if (CONTENT_CID_PATTERN.test(m.cid)) cids.set(`${m.name} ${m.sha256}`, m.cid)
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
    const cid = cids.get(`${model.name} ${model.sha256}`)
    models.push({
      id: model.name,
      sha256: model.sha256,
      taskTypes: types,
      ...(Number.isSafeInteger(model.sizeBytes) && model.sizeBytes >= 0 ? { bytes: model.sizeBytes } : {}),
      ...generativeFields(model),
      ...(cid === undefined ? {} : { cid }),
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
    ...(content === undefined
      ? {}
      : { content: { maxBytes: clamp(content.maxBytes, 0, Number.MAX_SAFE_INTEGER) } }),
  }
}

/**
 * The announcement as a peer that announced protocol minor `minor` can read it (`undefined`: not
 * known yet, so the oldest): without `reach` below minor 1, without the generative model fields
 * below minor 3, without `resources` below minor 4, without `content` and model CIDs below minor 5
 * (docs/protocol.md §7). A paused node tells a
 * peer below minor 4, which cannot read `resources.paused`, that it runs nothing for now, so that
 * it routes no tasks here either.
 */
export function capabilitiesFor(caps: Capabilities, minor: number | undefined): Capabilities {
  const at = minor ?? 0
  let out = caps
  if (at < RESOURCES_MINOR && out.resources !== undefined) {
    const { resources, ...rest } = out
    out = resources.paused === true ? { ...rest, taskTypes: [], models: [] } : rest
  }
  if (at < FORWARDING_MINOR && out.reach !== undefined) {
    const { reach: _, ...base } = out
    out = base
  }
  if (
    at < STREAMING_MINOR &&
    out.models.some((m) => 'family' in m || 'quantization' in m || 'contextLength' in m)
  ) {
    out = {
      ...out,
      models: out.models.map(({ family: _f, quantization: _q, contextLength: _c, ...model }) => model),
    }
  }
  if (at < CONTENT_MINOR && (out.content !== undefined || out.models.some((m) => 'cid' in m))) {
    const { content: _, ...base } = out
    out = { ...base, models: base.models.map(({ cid: _cid, ...model }) => model) }
  }
  return out
}

/** The minor versions at which what a peer can read of an announcement changes, oldest first. */
export const ANNOUNCEMENT_TIERS: readonly number[] = [
  0,
  FORWARDING_MINOR,
  STREAMING_MINOR,
  RESOURCES_MINOR,
  CONTENT_MINOR,
]

/** What a generative model announces about itself (minor 3), where the engine knows it and it fits the wire. */
function generativeFields(
  model: ModelInfo,
): Pick<Capabilities['models'][number], 'family' | 'quantization' | 'contextLength'> {
  return {
    ...(typeof model.family === 'string' && MODEL_KIND.test(model.family) ? { family: model.family } : {}),
    ...(typeof model.quantization === 'string' && MODEL_KIND.test(model.quantization)
      ? { quantization: model.quantization }
      : {}),
    ...(Number.isSafeInteger(model.contextLength) &&
    (model.contextLength as number) >= 1 &&
    (model.contextLength as number) <= MAX_CONTEXT_LENGTH
      ? { contextLength: model.contextLength as number }
      : {}),
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(n)))
}
