/**
 * `demo tasks` and the prompt's `tasks`: the demo's workload sent to a running demo network
 * through its first live node's control API, like any client would: the network decides where
 * each task runs. Every output is checked as `demo run` checks it.
 */
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import { BIN_NAME } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { TaskJson } from '../control/types.js'
import { ControlConnectionError } from '../errors.js'
import { DEMO_MODEL, type DemoType } from './constants.js'
import { clientOf } from './nodes.js'
import type { DemoNode, DemoState } from './state.js'
import { type OutputCheck, type Verifier, verifier } from './verify.js'
import { type PlannedTask, planTasks } from './workload.js'

/** One demo task and how it went. */
export interface DemoTaskResult {
  readonly index: number
  readonly task: TaskJson
  /** Name of the node that ran it (`node-2`), or its short PeerId if not a demo node. */
  readonly ranOn: string
  /** The node it was submitted to. */
  readonly submittedTo: string
  readonly wallMs: number
  /** The demo's own check of the output (recomputed here, or compared with the text drawn). */
  readonly check: OutputCheck
}

export interface DemoRun {
  readonly results: readonly DemoTaskResult[]
  readonly wallMs: number
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

/** The verifier of a demo network: its outputs recomputed with the model its nodes serve. */
export function demoVerifier(dir: string): Verifier {
  return verifier(join(dir, 'models', DEMO_MODEL))
}

/**
 * Sends `plan` (or `count` tasks of `type`) to the first live node, which routes each; resolves
 * when every task is final and checked.
 */
export async function runDemoTasks(
  dir: string,
  state: DemoState,
  work: { readonly type: DemoType; readonly count: number } | readonly PlannedTask[],
  signal: AbortSignal,
  onResult?: (r: DemoTaskResult) => void,
): Promise<DemoRun> {
  const live = await liveNodes(state)
  const entry = live[0]
  if (entry === undefined) {
    throw new ControlConnectionError(
      'none of the demo nodes is running',
      `start the demo again: \`${BIN_NAME} demo stop\`, then \`${BIN_NAME} demo start\``,
    )
  }
  const plan = 'type' in work ? await planTasks([work.type], work.count) : work
  const check = demoVerifier(dir)
  // One signal for all the waits of this run: each request listens to it, so lift the default cap
  // of 10 listeners, bounded by this run's size.
  const run = new AbortController()
  setMaxListeners(plan.length * 2 + 10, run.signal)
  const onAbort = (): void => run.abort(signal.reason)
  signal.addEventListener('abort', onAbort, { once: true })
  const t0 = Date.now()
  try {
    const results = await Promise.all(
      plan.map(async (planned, index) => {
        const started = Date.now()
        const submitted = await entry.client.submit({ type: planned.type, input: planned.input })
        const task = await entry.client.wait(submitted.id, { signal: run.signal })
        const result: DemoTaskResult = {
          index,
          task,
          ranOn: nameOf(state, task.meta?.peer, entry.node.name),
          submittedTo: entry.node.name,
          wallMs: Date.now() - started,
          check:
            task.status === 'COMPLETED'
              ? await check.check(planned, task.output)
              : { ok: false, detail: task.error?.message ?? task.status },
        }
        onResult?.(result)
        return result
      }),
    )
    return { results, wallMs: Date.now() - t0 }
  } finally {
    signal.removeEventListener('abort', onAbort)
    await check.close()
  }
}
