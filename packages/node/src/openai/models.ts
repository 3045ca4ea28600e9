/**
 * The models an OpenAI client can name: every model this node or a connected peer announces for
 * `generate` (chat completions) or `embed` (embeddings), by registry name. A model served by
 * several nodes is one entry; the swarm routes each request to one of them.
 */
import type { ModelInfo } from '@p2p-ai/engine'
import type { NetworkTaskHandle, SubmitOptions, TaskSubmission } from '../exchange/types.js'
import type { PeerInfo } from '../peers/types.js'
import { OWNED_BY } from './constants.js'

/** What the API needs of a node: a `P2PNode` is one. */
export interface OpenAINode {
  readonly peerId: string
  readonly engine: { capabilities(): { readonly models: readonly ModelInfo[] } }
  peers(): readonly PeerInfo[]
  submit<Output = unknown>(task: TaskSubmission, options?: SubmitOptions): NetworkTaskHandle<Output>
}

/** The task types OpenAI's endpoints run. */
export const OPENAI_TASK_TYPES = ['generate', 'embed'] as const
export type OpenAITaskType = (typeof OPENAI_TASK_TYPES)[number]

/** One model as the swarm serves it. */
export interface SwarmModel {
  readonly id: string
  readonly taskTypes: OpenAITaskType[]
  /** PeerIds of the nodes that serve it (this node's own first, when it does). */
  readonly providers: string[]
  readonly family?: string
  readonly quantization?: string
  readonly contextLength?: number
}

/** Models for `generate` and `embed` in the swarm, by name. */
export function swarmModels(node: OpenAINode): SwarmModel[] {
  const byId = new Map<string, SwarmModel & { taskTypes: OpenAITaskType[]; providers: string[] }>()
  const add = (
    provider: string,
    model: {
      id: string
      taskTypes: readonly string[]
      family?: string
      quantization?: string
      contextLength?: number
    },
  ): void => {
    const types = OPENAI_TASK_TYPES.filter((t) => model.taskTypes.includes(t))
    if (types.length === 0) return
    let entry = byId.get(model.id)
    if (entry === undefined) {
      entry = {
        id: model.id,
        taskTypes: [],
        providers: [],
        ...(model.family === undefined ? {} : { family: model.family }),
        ...(model.quantization === undefined ? {} : { quantization: model.quantization }),
        ...(model.contextLength === undefined ? {} : { contextLength: model.contextLength }),
      }
      byId.set(model.id, entry)
    }
    for (const t of types) if (!entry.taskTypes.includes(t)) entry.taskTypes.push(t)
    if (!entry.providers.includes(provider)) entry.providers.push(provider)
  }
  for (const m of node.engine.capabilities().models) add(node.peerId, { ...m, id: m.name })
  for (const peer of node.peers()) {
    if (peer.status !== 'connected') continue
    for (const m of peer.capabilities?.models ?? []) add(peer.peerId, m)
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** A model as OpenAI's `GET /models` lists it, with what p2p-ai knows of it under `p2p_ai`. */
export function modelObject(model: SwarmModel) {
  return {
    id: model.id,
    object: 'model' as const,
    // OpenAI's creation date of the model; a file served by peers has none anyone vouches for.
    created: 0,
    owned_by: OWNED_BY,
    p2p_ai: {
      task_types: model.taskTypes,
      providers: model.providers.length,
      ...(model.family === undefined ? {} : { family: model.family }),
      ...(model.quantization === undefined ? {} : { quantization: model.quantization }),
      ...(model.contextLength === undefined ? {} : { context_length: model.contextLength }),
    },
  }
}
