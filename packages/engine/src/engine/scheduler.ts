/**
 * Which queued task starts next, and who may queue one more: the engine's one scheduling policy.
 *
 * Tasks belong to flows (`TaskRequest.flow`; on a node, the peer that asked for the task). Flows
 * share the slots by weighted fair queueing over the time their tasks hold a slot (start-time fair
 * queueing, Goyal, Vin and Cheng, 1996): every flow with tasks waiting has a virtual start tag;
 * the flow with the lowest tag starts its best task (highest priority, then oldest), and its tag
 * moves on by the task's expected run time divided by its weight, corrected to the real run time
 * when the task gives its slot back. A flow that was idle joins at the current virtual time: it
 * neither banks credit while idle nor pays for the others' backlog. So a flow that queues
 * thousands of tasks gets its share of the slots and no more, and a flow with one task waiting
 * starts it as soon as a slot frees, whatever the others queued before it.
 *
 * A task's weight is 1 + its priority (clamped to 0..9): a flow's share of the slot time is
 * proportional to the priority of the tasks it sends, from 1 (priority 0) to 10 (priority 9), so
 * even the lowest priority is never starved. Within one flow, tasks start by priority, then in
 * submission order.
 *
 * Admission is fair too: once `maxQueueLength` tasks wait, a flow that holds less than its fair
 * share of the queue (the length divided by the flows with tasks waiting, itself included) may
 * still queue one, the others get `ERR_QUEUE_FULL`. One flow cannot fill the queue for everyone,
 * and the queue never holds more than twice its length.
 */
import { Heap, TaskHeap, taskOrder } from './heap.js'
import type { BackendEntry } from './registry.js'
import type { Charge, TaskState } from './task.js'

/** Weight of the newest run time in a backend's run-time estimate. */
const RUN_TIME_EWMA_ALPHA = 0.2
/** Charged for a task of a backend that never finished one yet, in the clock's units (ms). */
const FIRST_RUN_ESTIMATE = 1
/** Highest priority that still adds weight; the network's range is 0..9. */
const MAX_WEIGHTED_PRIORITY = 9

/** Largest weight of a task (`TaskRequest.weight`). */
export const MAX_WEIGHT = 1 + MAX_WEIGHTED_PRIORITY

/** A flow's share of the slot time per task of `priority`: 1 + its priority, clamped to 1..10. */
export function weightOf(priority: number): number {
  return 1 + Math.min(MAX_WEIGHTED_PRIORITY, Math.max(0, priority))
}

class Flow {
  heapIndex = -1
  /** Virtual time its next task starts at (while backlogged), or its last task finished at. */
  tag = 0
  queued = 0
  /** Its tasks holding a slot: their run times are still to be charged. */
  running = 0
  readonly queues = new Map<BackendEntry, TaskHeap<TaskState>>()

  constructor(
    readonly key: string,
    /** When the flow joined, to break ties between equal tags first come first served. */
    readonly joined: number,
  ) {}
}

const flowOrder = (a: Flow, b: Flow): boolean => a.tag < b.tag || (a.tag === b.tag && a.joined < b.joined)

/** Queued tasks by flow, and the virtual clock that shares the slots between flows. */
export class FairScheduler {
  readonly #flows = new Map<string, Flow>()
  /** Flows with tasks waiting, lowest tag first. */
  readonly #backlogged = new Heap<Flow>(flowOrder)
  #virtualTime = 0
  #joins = 0
  #size = 0

  /** Tasks waiting. */
  get size(): number {
    return this.#size
  }

  /** Flows with tasks waiting. */
  get flows(): number {
    return this.#backlogged.size
  }

  /** Tasks of `flow` waiting. */
  queuedOf(flow: string): number {
    return this.#flows.get(flow)?.queued ?? 0
  }

  /**
   * Whether `flow` may queue one more task: while fewer than `maxQueueLength` wait, or while it
   * holds less than its fair share of them.
   */
  admits(flow: string, maxQueueLength: number): boolean {
    if (this.#size < maxQueueLength) return true
    const own = this.queuedOf(flow)
    const flows = this.#backlogged.size + (own === 0 ? 1 : 0)
    return own < maxQueueLength / flows
  }

  push(state: TaskState): void {
    let flow = this.#flows.get(state.flow)
    if (flow === undefined) {
      flow = new Flow(state.flow, this.#joins++)
      flow.tag = this.#virtualTime
      this.#flows.set(state.flow, flow)
    }
    let queue = flow.queues.get(state.entry)
    if (queue === undefined) {
      queue = new TaskHeap()
      flow.queues.set(state.entry, queue)
    }
    queue.push(state)
    state.entry.queued++
    this.#size++
    if (flow.queued++ === 0) {
      // Back from idle: no credit for the time it waited for nothing.
      flow.tag = Math.max(flow.tag, this.#virtualTime)
      this.#backlogged.push(flow)
    }
  }

  /** Takes a queued task out (cancelled, timed out); returns whether it was queued. */
  remove(state: TaskState): boolean {
    const flow = this.#flows.get(state.flow)
    if (flow === undefined || flow.queues.get(state.entry)?.remove(state) !== true) return false
    this.#dequeued(flow, state)
    return true
  }

  /**
   * The task to start now: of the flow with the lowest tag among those with a task a backend can
   * take (`canStart`), its best such task, taken out of the queue and charged to its flow.
   */
  next(canStart: (entry: BackendEntry) => boolean): TaskState | undefined {
    const skipped: Flow[] = []
    let found: { flow: Flow; state: TaskState } | undefined
    for (let flow = this.#backlogged.pop(); flow !== undefined; flow = this.#backlogged.pop()) {
      const state = bestHead(flow, canStart)
      if (state !== undefined) {
        found = { flow, state }
        break
      }
      skipped.push(flow)
    }
    for (const flow of skipped) this.#backlogged.push(flow)
    if (found === undefined) return undefined
    const { flow, state } = found
    // It was popped above: #dequeued puts it back if it has more waiting.
    flow.queues.get(state.entry)!.remove(state)
    this.#virtualTime = Math.max(this.#virtualTime, flow.tag)
    // What it is charged now, corrected once its real run time is known (settled).
    const { weight } = state
    const estimate = state.entry.runMsEstimate ?? FIRST_RUN_ESTIMATE
    flow.tag += estimate / weight
    flow.running++
    state.charge = { flow, weight, estimate }
    this.#dequeued(flow, state, false)
    return state
  }

  /**
   * A started task gave its slot back after `runMs`: its flow pays for the time it really held
   * the slot, and the backend's estimate learns from it.
   */
  settled(state: TaskState, runMs: number): void {
    const charge = state.charge as Charge | undefined
    if (charge === undefined) return
    state.charge = undefined
    const ms = Number.isFinite(runMs) && runMs > 0 ? runMs : 0
    const flow = charge.flow as Flow
    flow.running--
    flow.tag += (ms - charge.estimate) / charge.weight
    if (flow.heapIndex !== -1) this.#backlogged.update(flow)
    const previous = state.entry.runMsEstimate
    state.entry.runMsEstimate = previous === undefined ? ms : previous + RUN_TIME_EWMA_ALPHA * (ms - previous)
  }

  /** Empties the queue; returns the tasks that waited, in no particular order. */
  drain(): TaskState[] {
    const states: TaskState[] = []
    for (const flow of this.#flows.values()) {
      for (const queue of flow.queues.values()) states.push(...queue.drain())
      flow.queues.clear()
      flow.queued = 0
    }
    for (const state of states) state.entry.queued--
    this.#backlogged.drain()
    this.#size = 0
    return states
  }

  /** `state` left `flow`'s queue (started, when `started` is not false, or removed). */
  #dequeued(flow: Flow, state: TaskState, removeFromHeap = true): void {
    state.entry.queued--
    this.#size--
    flow.queued--
    const queue = flow.queues.get(state.entry)
    if (queue !== undefined && queue.size === 0) flow.queues.delete(state.entry)
    if (flow.queued > 0) {
      if (flow.heapIndex === -1) this.#backlogged.push(flow)
      else this.#backlogged.update(flow)
      return
    }
    if (removeFromHeap) this.#backlogged.remove(flow)
    this.#forgetIdle()
  }

  /**
   * Idle flows are remembered while their tag is ahead of the virtual clock (so that leaving and
   * coming straight back gains nothing); the others are forgotten, which keeps the map as small
   * as the set of flows that were recently served.
   */
  #forgetIdle(): void {
    if (this.#flows.size <= 2 * this.#backlogged.size + 64) return
    for (const [key, flow] of this.#flows) {
      if (flow.queued === 0 && flow.running === 0 && flow.tag <= this.#virtualTime) this.#flows.delete(key)
    }
  }
}

/** The best head of `flow`'s queues that a backend can take now (priority, then age). */
function bestHead(flow: Flow, canStart: (entry: BackendEntry) => boolean): TaskState | undefined {
  let best: TaskState | undefined
  for (const queue of flow.queues.values()) {
    const head = queue.peek()
    if (head === undefined || !canStart(head.entry)) continue
    if (best === undefined || taskOrder(head, best)) best = head
  }
  return best
}
