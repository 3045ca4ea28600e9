import { afterEach, describe, expect, it } from 'vitest'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import { weightOf } from '../src/engine/scheduler.js'
import { InvalidRequestError, QueueFullError } from '../src/errors.js'
import { gateBackend, until } from './engine-helpers.js'

let engine: TaskEngine | undefined
afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

/** An engine with one gate backend and a clock the test moves. */
function setup(init: { concurrency?: number; maxQueueLength?: number } = {}) {
  const gate = gateBackend()
  const clock = { now: 0 }
  engine = taskEngine({ builtins: false, backends: [gate.backend], now: () => clock.now, ...init })
  return { e: engine, gate, clock }
}

/** The flow of a run, from ids of the form `<flow>-<n>`. */
const flowOf = (id: string): string => id.slice(0, id.indexOf('-'))

/**
 * Resolves the runs one by one as they start, each after `runMs(flow)` on the clock, until `count`
 * ran; returns the flows in start order.
 */
async function drive(
  gate: ReturnType<typeof gateBackend>,
  clock: { now: number },
  count: number,
  runMs: (flow: string) => number,
): Promise<string[]> {
  for (let i = 0; i < count; i++) {
    await until(() => gate.runs.length > i)
    const run = gate.runs[i]!
    clock.now += runMs(flowOf(run.task.id))
    run.resolve(i)
  }
  return gate.runs.slice(0, count).map((run) => flowOf(run.task.id))
}

describe('fair queueing between flows', () => {
  it("starts a flow's lone task at the next free slot, however many tasks another flow queued first", async () => {
    const { e, gate, clock } = setup({ concurrency: 1 })
    for (let i = 0; i < 50; i++) await e.submit({ id: `flood-${i}`, type: 'gate', flow: 'flood' })
    await e.submit({ id: 'victim-0', type: 'gate', flow: 'victim' })
    const order = await drive(gate, clock, 3, () => 10)
    expect(order).toEqual(['flood', 'victim', 'flood'])
  })

  it('shares the slot time between backlogged flows in proportion to 1 + priority', async () => {
    expect([weightOf(0), weightOf(5), weightOf(9), weightOf(-3), weightOf(42)]).toEqual([1, 6, 10, 1, 10])
    const { e, gate, clock } = setup({ concurrency: 1 })
    for (let i = 0; i < 40; i++) {
      await e.submit({ id: `low-${i}`, type: 'gate', flow: 'low', priority: 0 })
      await e.submit({ id: `high-${i}`, type: 'gate', flow: 'high', priority: 2 })
    }
    const order = await drive(gate, clock, 40, () => 10)
    const high = order.filter((f) => f === 'high').length
    // Weights 3 : 1: three quarters of the starts, within one task.
    expect(Math.abs(high - 30)).toBeLessThanOrEqual(1)
  })

  it('weighs a flow by the weight its tasks were given, whatever their priority, and still orders them by priority', async () => {
    const { e, gate, clock } = setup({ concurrency: 1 })
    for (let i = 0; i < 40; i++) {
      // A requester that marks everything urgent, held to the weight of the default priority.
      await e.submit({ id: `loud-${i}`, type: 'gate', flow: 'loud', priority: 9, weight: weightOf(5) })
      await e.submit({ id: `plain-${i}`, type: 'gate', flow: 'plain', priority: 5 })
    }
    const order = await drive(gate, clock, 40, () => 10)
    expect(Math.abs(order.filter((f) => f === 'loud').length - 20)).toBeLessThanOrEqual(1)
    expect(e.list({ status: 'QUEUED' }).find((t) => t.id.startsWith('loud'))?.priority).toBe(9)
    await expect(e.submit({ type: 'gate', weight: 0 })).rejects.toThrow(
      /weight: must be an integer from 1 to 10/,
    )
    await expect(e.submit({ type: 'gate', weight: 11 })).rejects.toBeInstanceOf(InvalidRequestError)
  })

  it('charges a flow for the time its tasks hold a slot, not for their number', async () => {
    const { e, gate, clock } = setup({ concurrency: 1 })
    for (let i = 0; i < 60; i++) {
      await e.submit({ id: `slow-${i}`, type: 'gate', flow: 'slow' })
      await e.submit({ id: `quick-${i}`, type: 'gate', flow: 'quick' })
    }
    const order = await drive(gate, clock, 50, (flow) => (flow === 'slow' ? 40 : 10))
    const slow = order.filter((f) => f === 'slow').length
    const quick = order.length - slow
    // Equal slot time: the quick flow runs about four tasks for each of the slow flow's.
    const slowTime = slow * 40
    const quickTime = quick * 10
    expect(Math.abs(slowTime - quickTime)).toBeLessThanOrEqual(80)
  })

  it('keeps priority order, then submission order, within one flow', async () => {
    const { e, gate, clock } = setup({ concurrency: 1 })
    await e.submit({ id: 'a-first', type: 'gate', flow: 'a' })
    await e.submit({ id: 'a-low', type: 'gate', flow: 'a', priority: 1 })
    await e.submit({ id: 'a-plain', type: 'gate', flow: 'a' })
    await e.submit({ id: 'a-high', type: 'gate', flow: 'a', priority: 9 })
    await drive(gate, clock, 4, () => 10)
    expect(gate.runs.map((r) => r.task.id)).toEqual(['a-first', 'a-high', 'a-plain', 'a-low'])
  })

  it('admits a flow below its fair share into a full queue and refuses the flow that filled it', async () => {
    const { e } = setup({ concurrency: 1, maxQueueLength: 4 })
    for (let i = 0; i < 5; i++) await e.submit({ id: `flood-${i}`, type: 'gate', flow: 'flood' })
    await expect(e.submit({ type: 'gate', flow: 'flood' })).rejects.toBeInstanceOf(QueueFullError)
    // Two flows: a share of 2 each. The newcomer gets two places; the queue holds 6 (of at most 8).
    await e.submit({ type: 'gate', flow: 'other' })
    await e.submit({ type: 'gate', flow: 'other' })
    await expect(e.submit({ type: 'gate', flow: 'other' })).rejects.toThrow(
      /6 tasks waiting, at most 4, shared fairly by 2 requesters/,
    )
    expect(e.capabilities()).toMatchObject({ running: 1, queued: 6 })
  })

  it('refuses a flow that is not a short string', async () => {
    const { e } = setup()
    await expect(e.submit({ type: 'gate', flow: 7 as never })).rejects.toBeInstanceOf(InvalidRequestError)
    await expect(e.submit({ type: 'gate', flow: 'x'.repeat(129) })).rejects.toThrow(/flow: must be a string/)
  })
})
