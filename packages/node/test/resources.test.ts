// Resource monitoring and the contributor's limits, with a fake machine and fake clocks: nothing
// here measures or burns real CPU (the CPU limit is measured for real by `pnpm bench resources`).
import { resultStore, taskEngine } from '@p2p-ai/engine'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { capabilitiesFor } from '../src/announce/capabilities.js'
import { resolveNodeConfig } from '../src/config/load.js'
import { parseSize } from '../src/config/size.js'
import { batteryFromLinux, batteryFromPmset } from '../src/resources/battery.js'
import { CpuGate } from '../src/resources/cpu-gate.js'
import { PauseGovernor } from '../src/resources/governor.js'
import { cpuShares, ResourceMonitor } from '../src/resources/monitor.js'
import { NodeResources, type ResourceSettings } from '../src/resources/resources.js'
import type { ResourceStatus } from '../src/resources/types.js'
import { inWindow, parseWindow } from '../src/resources/windows.js'
import { FakeMachine } from './fixtures/fake-machine.js'

const MIB = 1024 * 1024
const silent = pino({ level: 'silent' })

describe('resource monitoring', () => {
  it("splits the machine's CPU into the node's share and everyone else's", async () => {
    const machine = new FakeMachine(5_000)
    const monitor = new ResourceMonitor({ sampler: machine, now: () => 1_000 })
    expect(await monitor.measure()).toBeUndefined()
    machine.others = 0.3
    machine.node = 0.2
    const snapshot = await monitor.measure()
    expect(snapshot?.periodMs).toBe(5_000)
    expect(snapshot?.cpu.machine).toBeCloseTo(0.5)
    expect(snapshot?.cpu.node).toBeCloseTo(0.2)
    expect(snapshot?.cpu.others).toBeCloseTo(0.3)
    expect(snapshot).toMatchObject({
      at: 1_000,
      cores: 4,
      load: [0.5, 0.4, 0.3],
      batterySupport: 'supported',
    })
    expect(monitor.last).toBe(snapshot)
  })

  it('never reports the node above the machine, nor shares outside 0..1', () => {
    const sample = (busy: number, total: number, proc: number, at: number) => ({
      at,
      machineCpu: { busyMs: busy, totalMs: total },
      processCpuMs: proc,
      cores: 2,
      memory: { totalBytes: 1, availableBytes: 1, rssBytes: 1 },
      loadAverage: [0, 0, 0] as const,
      disk: undefined,
      battery: undefined,
      batterySupport: 'unsupported' as const,
    })
    // The process clock read a moment after the machine's: 1.2 cores of 2 against 50 % busy.
    const shares = cpuShares(sample(0, 0, 0, 0), sample(1_000, 2_000, 1_200, 1_000))
    expect(shares).toMatchObject({ machine: 0.6, node: 0.6, others: 0 })
    expect(cpuShares(sample(0, 0, 0, 0), sample(0, 0, 0, 0))).toMatchObject({ machine: 0, node: 0 })
  })

  it('reads the battery from Linux power supplies and from pmset', () => {
    const battery = { type: 'Battery', status: 'Discharging', capacity: '81' }
    expect(batteryFromLinux([battery, { type: 'Mains', online: '0' }])).toEqual({
      onBattery: true,
      charging: false,
      percent: 81,
    })
    expect(
      batteryFromLinux([
        { ...battery, status: 'Charging' },
        { type: 'Mains', online: '1' },
      ]),
    ).toMatchObject({
      onBattery: false,
      charging: true,
    })
    // A desktop, or only a wireless mouse's battery: no battery of the machine's own.
    expect(batteryFromLinux([{ type: 'Mains', online: '1' }])).toBeUndefined()
    expect(batteryFromLinux([{ ...battery, scope: 'Device' }])).toBeUndefined()
    expect(
      batteryFromPmset(
        "Now drawing from 'Battery Power'\n -InternalBattery-0 (id=4653155)\t82%; discharging; 4:01 remaining present: true\n",
      ),
    ).toEqual({ onBattery: true, charging: false, percent: 82 })
    expect(
      batteryFromPmset(
        "Now drawing from 'AC Power'\n -InternalBattery-0 (id=1)\t100%; charged; 0:00 remaining\n",
      ),
    ).toMatchObject({ onBattery: false, percent: 100 })
    expect(batteryFromPmset("Now drawing from 'AC Power'\n")).toBeUndefined()
  })
})

describe("the contributor's limits: when the node takes tasks", () => {
  const base = {
    idleOnly: false,
    idleThreshold: 0.25,
    idleAfterMs: 60_000,
    windows: [],
    pauseOnBattery: false,
  }
  const snapshot = (at: number, others: number, onBattery = false) =>
    ({
      at,
      periodMs: 5_000,
      cores: 4,
      cpu: { machine: others, node: 0, others },
      memory: { totalBytes: 1, availableBytes: 1, nodeBytes: 1 },
      load: [0, 0, 0],
      disk: undefined,
      battery: { onBattery },
      batterySupport: 'supported',
    }) as const

  it('idle-only: pauses at the first reading of the owner at work, runs after the idle time', () => {
    const governor = new PauseGovernor({ ...base, idleOnly: true })
    // Before any reading the machine has not been seen idle.
    expect(governor.reasons(0)).toEqual(['in-use'])
    governor.observe(snapshot(5_000, 0.05))
    expect(governor.reasons(5_000)).toEqual(['in-use'])
    governor.observe(snapshot(60_000, 0.1))
    expect(governor.reasons(60_000)).toEqual([])
    governor.observe(snapshot(65_000, 0.6))
    expect(governor.reasons(65_000)).toEqual(['in-use'])
    governor.observe(snapshot(70_000, 0.01))
    expect(governor.reasons(100_000)).toEqual(['in-use'])
    expect(governor.reasons(125_000)).toEqual([])
  })

  it('pauses outside its time windows (across midnight) and on battery when asked to', () => {
    expect(parseWindow('22:00-07:00')).toEqual({ start: 22 * 60, end: 7 * 60 })
    expect(parseWindow('7:30 - 24:00')).toEqual({ start: 450, end: 1440 })
    for (const bad of ['22:00', '25:00-01:00', '10:00-10:00', '10:60-11:00'])
      expect(parseWindow(bad)).toBeUndefined()
    const night = parseWindow('22:00-07:00')!
    expect(inWindow(night, new Date(2026, 0, 1, 23, 30))).toBe(true)
    expect(inWindow(night, new Date(2026, 0, 1, 6, 59))).toBe(true)
    expect(inWindow(night, new Date(2026, 0, 1, 7, 0))).toBe(false)

    const governor = new PauseGovernor({
      ...base,
      windows: ['22:00-07:00', '12:00-13:00'],
      pauseOnBattery: true,
    })
    expect(governor.reasons(new Date(2026, 0, 1, 12, 30).getTime())).toEqual([])
    expect(governor.reasons(new Date(2026, 0, 1, 15, 0).getTime())).toEqual(['outside-window'])
    governor.observe(snapshot(0, 0, true))
    expect(governor.reasons(new Date(2026, 0, 1, 23, 0).getTime())).toEqual(['on-battery'])
  })

  it('validates the limits: sizes, shares, windows', () => {
    expect(parseSize('4GiB')).toEqual({ bytes: 4 * 1024 ** 3 })
    expect(parseSize('512MB')).toEqual({ bytes: 512_000_000 })
    expect(parseSize('1.5g')).toEqual({ bytes: 1.5 * 1024 ** 3 })
    expect(parseSize('50%')).toEqual({ percent: 50 })
    expect(parseSize(1024)).toEqual({ bytes: 1024 })
    for (const bad of ['0', '-1GB', '4 parsecs', '150%', '0%']) expect(parseSize(bad)).toBeUndefined()
    const config = resolveNodeConfig({
      limits: { cpu: 50, memory: '25%', disk: '20GiB', windows: ['22:00-07:00'] },
    })
    expect(config.limits).toMatchObject({ cpu: 50, memory: '25%', disk: '20GiB', idleOnly: false })
    expect(() =>
      resolveNodeConfig({ limits: { cpu: 0, memory: 'lots', windows: ['after dinner'] } }),
    ).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({ path: 'limits.cpu', expected: 'an integer between 1 and 100' }),
          expect.objectContaining({
            path: 'limits.memory',
            message: expect.stringContaining('a size such as 4GiB'),
          }),
          expect.objectContaining({
            path: 'limits.windows[0]',
            message: expect.stringContaining('HH:MM-HH:MM'),
          }),
        ],
      }),
    )
  })
})

describe("the CPU limit's duty cycle", () => {
  it('keeps the average within the limit over a long run of back-to-back tasks', () => {
    // One slot; each task takes 300 ms of one full core; the node may use 0.6 of a core.
    let now = 0
    let cpu = 0
    const gate = new CpuGate({ cpuMs: () => cpu, now: () => now, onChange: () => {}, timer: false })
    gate.configure(0.6)
    let running = 0
    for (let t = 0; t < 60_000; t += 10) {
      now = t
      if (running > 0) {
        cpu += 10
        running -= 10
      } else if (!gate.holding) running = 300
      if (t % 100 === 0) gate.tick()
    }
    const average = cpu / 60_000
    expect(average).toBeGreaterThan(0.55)
    expect(average).toBeLessThan(0.65)
  })

  it('stays open without a limit, and lets a burst through after a quiet spell', () => {
    let now = 0
    let cpu = 0
    const changes: boolean[] = []
    const gate = new CpuGate({
      cpuMs: () => cpu,
      now: () => now,
      onChange: (h) => changes.push(h),
      timer: false,
    })
    gate.configure(1)
    now = 5_000
    gate.tick()
    // 800 ms of CPU in 100 ms: paid from the 1 s of savings.
    now = 5_100
    cpu = 800
    gate.tick()
    expect(gate.holding).toBe(false)
    now = 5_200
    cpu = 1_800
    gate.tick()
    expect(gate.holding).toBe(true)
    gate.configure(undefined)
    expect(gate.holding).toBe(false)
    expect(changes).toEqual([true, false])
  })
})

describe('a node within its limits', () => {
  const engines: Array<ReturnType<typeof taskEngine>> = []
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop({ timeoutMs: 0 })))
  })

  function setup(limits: Partial<ResourceSettings['limits']>, store?: ReturnType<typeof resultStore>) {
    const engine = taskEngine({ concurrency: 4, workers: false, ...(store === undefined ? {} : { store }) })
    engines.push(engine)
    const machine = new FakeMachine()
    const changes: Array<{ status: ResourceStatus; paused: boolean }> = []
    const settings = (l: Partial<ResourceSettings['limits']>): ResourceSettings => ({
      intervalMs: 60_000,
      concurrency: 4,
      limits: { ...resolveNodeConfig({}).limits, ...l },
    })
    let now = 1_000_000
    const resources = new NodeResources({
      engine,
      sampler: machine,
      dataDir: '.',
      stores: () => (store === undefined ? [] : [store]),
      log: silent,
      settings: settings(limits),
      now: () => now,
      gateTimer: false,
      onChange: (status, change) => changes.push({ status, paused: change.paused }),
    })
    const advance = async (ms: number) => {
      now += ms
      await resources.measure()
    }
    return {
      engine,
      machine,
      resources,
      changes,
      advance,
      reconfigure: (l: typeof limits) => resources.configure(settings(l)),
    }
  }

  it('turns the CPU limit into fewer slots and the threads they share, at once when it changes', () => {
    const { engine, reconfigure } = setup({ cpu: 50 })
    const cores = engine.limits.cores!
    expect(cores).toBeGreaterThan(0)
    expect(engine.limits.slots).toBe(Math.min(4, Math.ceil(cores)))
    reconfigure({ cpu: 100 })
    expect(engine.limits).toMatchObject({ slots: 4, cores: undefined })
  })

  it('pauses and resumes idle-only as the owner comes and goes, telling the node each time', async () => {
    const { machine, resources, changes, advance } = setup({ idleOnly: true, idleAfterMs: 2_000 })
    resources.start()
    expect(resources.status()).toMatchObject({ paused: true, pauseReasons: ['in-use'] })
    await advance(0)
    machine.others = 0.05
    await advance(1_000)
    await advance(1_000)
    await advance(1_000)
    expect(resources.status().paused).toBe(false)
    machine.others = 0.7
    await advance(1_000)
    expect(resources.status()).toMatchObject({ paused: true, pauseReasons: ['in-use'] })
    expect(resources.figures()).toMatchObject({ cpu: 70, nodeCpu: 0, paused: true })
    expect(changes.filter((c) => c.paused).map((c) => c.status.paused)).toEqual([false, true])
    resources.stop()
  })

  it('budgets loaded models to limits.memory, and holds queued tasks while the node uses more', async () => {
    const { engine, machine, resources, advance } = setup({ memory: '512MiB' })
    expect(engine.limits.memoryBytes).toBe(512 * MIB)
    resources.start()
    machine.rssBytes = 600 * MIB
    await advance(0)
    await advance(1_000)
    expect(resources.status()).toMatchObject({ overMemory: true })
    expect(engine.limits.hold).toBe(true)
    expect(resources.figures()?.memoryFree).toBe(0)
    machine.rssBytes = 200 * MIB
    await advance(1_000)
    expect(engine.limits.hold).toBe(false)
    expect(resources.figures()?.memoryFree).toBe(256 * MIB)
    // Models get what the rest of the node leaves of the limit (no model is loaded here).
    expect(engine.limits.memoryBytes).toBe(312 * MIB)
    resources.stop()
  })

  it('deletes the oldest stored results while the data directory is over limits.disk', async () => {
    const store = resultStore({ inMemory: true })
    const start = Date.now()
    for (let i = 0; i < 100; i++) {
      store.put({
        id: `r${i}`,
        type: 'chunk',
        status: 'COMPLETED',
        priority: 5,
        backend: 'text',
        queuedAt: start + i,
        finishedAt: start + i,
        output: 'x'.repeat(10_000),
      })
    }
    const { machine, resources, advance } = setup({ disk: '10MiB' }, store)
    resources.start()
    machine.dataDirBytes = 10 * MIB + store.usage().usedBytes / 2
    await advance(0)
    await advance(1_000)
    const left = store.list({ limit: 100 }).map((r) => r.id)
    expect(left.length).toBeGreaterThan(30)
    expect(left.length).toBeLessThan(60)
    expect(left.at(-1)).toBe(`r${100 - left.length}`)
    expect(resources.status().overDisk).toBe(false)
    // Nothing left to delete and still over: said so, in health too.
    machine.dataDirBytes = 50 * MIB
    await advance(1_000)
    expect(resources.status().overDisk).toBe(true)
    resources.stop()
  })
})

describe('announcing a pause', () => {
  it('tells peers of minor 4 it is paused, and older peers that it runs nothing for now', () => {
    const caps = {
      protocolMinor: 4,
      taskTypes: ['embed'],
      models: [{ id: 'm', sha256: 'a'.repeat(64), taskTypes: ['embed'] }],
      concurrency: 2,
      load: { running: 0, queued: 0 },
      reach: [{ taskType: 'ocr', hops: 2, via: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5' }],
      resources: { cpu: 40, nodeCpu: 0, memoryFree: 0, paused: true as const },
    }
    expect(capabilitiesFor(caps, 4)).toBe(caps)
    expect(capabilitiesFor(caps, 2)).toEqual({ ...caps, taskTypes: [], models: [], resources: undefined })
    expect('resources' in capabilitiesFor(caps, 2)).toBe(false)
    expect(capabilitiesFor(caps, 0)).toEqual({
      protocolMinor: 4,
      taskTypes: [],
      models: [],
      concurrency: 2,
      load: { running: 0, queued: 0 },
    })
    const running = { ...caps, resources: { cpu: 40, nodeCpu: 0, memoryFree: 0 } }
    expect(capabilitiesFor(running, 2).taskTypes).toEqual(['embed'])
  })
})
