/**
 * Injecting one planned fault and undoing it, and what happened, with what a kill of a provider or
 * of the requester took to recover from.
 */
import type { Cluster } from './cluster.js'
import { FILL_LATENCY_MS, FILL_TASKS, NODE_EXIT_TIMEOUT_MS } from './constants.js'
import { ChaosHarnessError } from './errors.js'
import type { Violation } from './invariants.js'
import type { FaultKind, PlannedFault } from './plan.js'

/** One fault as it happened. */
export interface FaultRecord {
  readonly n: number
  readonly kind: FaultKind
  readonly target: string
  /** When it started, ms after the run's start. */
  readonly atMs: number
  readonly holdMs: number
  /** What it did, in a few words. */
  readonly note: string
}

/** A provider killed while the requester had tasks on it: those tasks, to time their recovery. */
export interface ProviderKill {
  readonly at: number
  readonly peer: string
  readonly ids: readonly string[]
}

export interface FaultContext {
  readonly cluster: Cluster
  readonly t0: number
  readonly sleep: (ms: number) => Promise<void>
  readonly kills: ProviderKill[]
  /** Kill of the requester → its API answering again, ms. */
  readonly requesterRestarts: number[]
  readonly violations: Violation[]
  /** Nodes starting again after a fault, by name: the next fault on one of them waits for it. */
  readonly restarting: Map<string, Promise<void>>
}

/**
 * Injects one fault and undoes it after its hold. A node that was killed or stopped is started
 * again in the background: the next faults go on meanwhile (on other nodes), as failures overlap
 * in life; a fault on a node still starting waits until it is up.
 */
export async function inject(fault: PlannedFault, ctx: FaultContext): Promise<FaultRecord> {
  const { cluster, sleep } = ctx
  const node = cluster.node(fault.target)
  await ctx.restarting.get(node.name)
  if (fault.kind === 'kill-provider') await ctx.restarting.get(cluster.requester.name)
  const atMs = Date.now() - ctx.t0
  const record = (note: string): FaultRecord => ({
    n: fault.n,
    kind: fault.kind,
    target: fault.target,
    atMs,
    holdMs: fault.holdMs,
    note,
  })
  const restart = (after?: (ms: number) => void): void => {
    const from = Date.now()
    const started = cluster.start(node).then(() => after?.(Date.now() - from))
    ctx.restarting.set(node.name, started)
    // Settled (or failed: the run then fails with the harness's error) before the next use.
    void started.catch(() => {})
  }
  switch (fault.kind) {
    case 'kill-provider': {
      const running = (
        await cluster.driver(cluster.requester.name).request({ cmd: 'running', peer: node.peerId })
      ).ids as string[]
      const at = Date.now()
      await node.kill()
      ctx.kills.push({ at, peer: node.peerId, ids: running })
      await sleep(fault.holdMs)
      restart()
      return record(
        `SIGKILL with ${running.length} of the requester's tasks on it; started again after ${fault.holdMs} ms`,
      )
    }
    case 'kill-requester': {
      const at = Date.now()
      await node.kill()
      await sleep(fault.holdMs)
      restart(() => ctx.requesterRestarts.push(Date.now() - at))
      return record(`SIGKILL; started again after ${fault.holdMs} ms`)
    }
    case 'freeze':
      node.freeze()
      await sleep(fault.holdMs)
      node.thaw()
      return record(`SIGSTOP, SIGCONT after ${fault.holdMs} ms`)
    case 'cut-link': {
      const { cut, restore } = node.place
      if (cut === undefined || restore === undefined) {
        throw new ChaosHarnessError(`${node.name} runs on ${node.place.name}: no link to cut`)
      }
      await cut()
      await sleep(fault.holdMs)
      await restore()
      return record(`link of ${node.place.name} down for ${fault.holdMs} ms`)
    }
    case 'graceful-stop': {
      node.expectExit()
      const asked = Date.now()
      await cluster.driver(node.name).request({ cmd: 'shutdown' })
      const exited = await node.exited(NODE_EXIT_TIMEOUT_MS)
      const took = Date.now() - asked
      if (!exited) {
        ctx.violations.push({
          kind: 'stop',
          detail: `${node.name} did not exit within ${NODE_EXIT_TIMEOUT_MS} ms of node stop`,
        })
        await node.kill()
      } else if (node.exitStatus?.code !== 0) {
        ctx.violations.push({
          kind: 'stop',
          detail: `${node.name} exited ${node.exitStatus?.code ?? node.exitStatus?.signal} after node stop`,
        })
      }
      await sleep(fault.holdMs)
      restart()
      return record(`node stop (exited after ${took} ms); started again after ${fault.holdMs} ms`)
    }
    case 'fill-queue': {
      const answer = await cluster.driver(node.name).request({
        cmd: 'fill',
        count: FILL_TASKS,
        latencyMs: FILL_LATENCY_MS,
      })
      return record(
        `${FILL_TASKS} local tasks of ${FILL_LATENCY_MS} ms submitted to its own queue, ${String(answer.acknowledged)} acknowledged`,
      )
    }
  }
}
