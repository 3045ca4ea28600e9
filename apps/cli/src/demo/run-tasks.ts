import { setMaxListeners } from 'node:events'
import { BIN_NAME } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { TaskJson } from '../control/types.js'
import { ControlConnectionError } from '../errors.js'
import { demoInput } from './inputs.js'
import { clientOf } from './network.js'
import type { DemoNode, DemoState } from './state.js'

/** One demo task and how it went. */
export interface DemoTaskResult {
  readonly index: number
  readonly task: TaskJson
  /** Name of the node that ran it (`node-2`), or its short PeerId if not a demo node. */
  readonly ranOn: string
  /** The node it was submitted to. */
  readonly submittedTo: string
  readonly wallMs: number
}

export interface DemoRun {
  readonly results: readonly DemoTaskResult[]
  readonly wallMs: number
  /** Whether tasks were routed by node-1's task exchange (else each node got its share directly). */
  readonly routed: boolean
}

/** The demo node name of a PeerId. */
export function nameOf(state: DemoState, peerId: string | undefined, fallback: string): string {
  if (peerId === undefined) return fallback
  return state.nodes.find((n) => n.peerId === peerId)?.name ?? `${peerId.slice(0, 8)}…`
}

/** The live nodes of the demo with their clients. */
export async function liveNodes(state: DemoState): Promise<Array<{ node: DemoNode; client: ControlClient }>> {
  const all = await Promise.all(state.nodes.map(async (node) => ({ node, client: await clientOf(node) })))
  return all.filter((x): x is { node: DemoNode; client: ControlClient } => x.client !== undefined)
}

/**
 * Submits `count` tasks of `type`. When the first live node can route tasks (its task exchange),
 * all go to it and the network decides where each runs; otherwise they are dealt to the live nodes
 * in turn. Resolves when every task is final.
 */
export async function runDemoTasks(
  state: DemoState,
  type: string,
  count: number,
  signal: AbortSignal,
  onResult?: (r: DemoTaskResult) => void,
): Promise<DemoRun> {
  const live = await liveNodes(state)
  if (live.length === 0) {
    throw new ControlConnectionError(
      'none of the demo nodes is running',
      `start the demo again: \`${BIN_NAME} demo stop\`, then \`${BIN_NAME} demo start\``,
    )
  }
  const routed = (await live[0]!.client.status()).routing
  // One signal for all the waits of this run: each request listens to it, so lift the default cap
  // of 10 listeners, bounded by this run's size.
  const run = new AbortController()
  setMaxListeners(count * 2 + 10, run.signal)
  const onAbort = (): void => run.abort(signal.reason)
  signal.addEventListener('abort', onAbort, { once: true })
  const t0 = Date.now()
  try {
    const results = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const { node, client } = routed ? live[0]! : live[index % live.length]!
        const started = Date.now()
        const submitted = await client.submit({ type, input: demoInput(type, index) })
        const task = await client.wait(submitted.id, { signal: run.signal })
        const result: DemoTaskResult = {
          index,
          task,
          ranOn: nameOf(state, task.meta?.peer, node.name),
          submittedTo: node.name,
          wallMs: Date.now() - started,
        }
        onResult?.(result)
        return result
      }),
    )
    return { results, wallMs: Date.now() - t0, routed }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
