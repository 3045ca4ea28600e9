import { afterEach, describe, expect, it, vi } from 'vitest'
import { DuplicateHealthCheckError } from '../src/errors.js'
import { HealthMonitor, type HealthReport, worst } from '../src/health/monitor.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('health monitor', () => {
  it('reports each component and the worst status', async () => {
    const monitor = new HealthMonitor()
    monitor.register('identity', () => ({ status: 'healthy' }))
    monitor.register('engine', async () => ({ status: 'degraded', detail: 'queue 900/1000' }))
    monitor.register('network', () => ({ status: 'healthy', detail: '2 peers' }), { local: false })
    const report = await monitor.run()
    expect(report.status).toBe('degraded')
    expect(report.components.map((c) => [c.name, c.status, c.local])).toEqual([
      ['identity', 'healthy', true],
      ['engine', 'degraded', true],
      ['network', 'healthy', false],
    ])
    expect(report.components[1]?.detail).toBe('queue 900/1000')
    expect(monitor.last).toBe(report)
  })

  it('answers within the time box when a check hangs, and aborts the check', async () => {
    const monitor = new HealthMonitor({ checkTimeoutMs: 100 })
    let aborted: unknown
    monitor.register('store', ({ signal }) => {
      signal.addEventListener('abort', () => {
        aborted = signal.reason
      })
      return new Promise(() => {})
    })
    monitor.register('identity', () => ({ status: 'healthy' }))
    const started = Date.now()
    const report = await monitor.run()
    expect(Date.now() - started).toBeLessThan(2_000)
    const store = report.components.find((c) => c.name === 'store')
    expect(store).toMatchObject({ status: 'unhealthy', detail: 'no answer within 100 ms' })
    expect(aborted).toMatchObject({ code: 'ERR_HEALTH_CHECK_TIMEOUT' })
    expect(report.status).toBe('unhealthy')
  })

  it('turns a throwing or malformed check into unhealthy with the reason', async () => {
    const monitor = new HealthMonitor()
    monitor.register('engine', () => {
      throw Object.assign(new Error('store closed'), { code: 'ERR_STORE_CLOSED' })
    })
    monitor.register('odd', () => 'fine' as never)
    const report = await monitor.run()
    expect(report.components[0]).toMatchObject({
      status: 'unhealthy',
      detail: 'ERR_STORE_CLOSED: store closed',
    })
    expect(report.components[1]?.status).toBe('unhealthy')
  })

  it('shares one round between concurrent callers', async () => {
    const monitor = new HealthMonitor()
    let calls = 0
    monitor.register('x', async () => {
      calls++
      await new Promise((r) => setTimeout(r, 10))
      return { status: 'healthy' }
    })
    const [a, b] = await Promise.all([monitor.run(), monitor.run()])
    expect(a).toBe(b)
    expect(calls).toBe(1)
  })

  it('runs periodically, and at a new period after configure()', async () => {
    vi.useFakeTimers()
    const reports: HealthReport[] = []
    const monitor = new HealthMonitor({ intervalMs: 30_000, onReport: (r) => reports.push(r) })
    monitor.register('x', () => ({ status: 'healthy' }))
    monitor.start()
    await vi.advanceTimersByTimeAsync(29_999)
    expect(reports).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(reports).toHaveLength(1)
    monitor.configure(5_000, 1_000)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(reports).toHaveLength(3)
    monitor.stop()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(reports).toHaveLength(3)
  })

  it('refuses two checks with the same name', () => {
    const monitor = new HealthMonitor()
    monitor.register('x', () => ({ status: 'healthy' }))
    expect(() => monitor.register('x', () => ({ status: 'healthy' }))).toThrow(DuplicateHealthCheckError)
    expect(monitor.unregister('x')).toBe(true)
  })

  it('orders statuses healthy < degraded < unhealthy', () => {
    expect(worst('healthy', 'degraded')).toBe('degraded')
    expect(worst('unhealthy', 'degraded')).toBe('unhealthy')
    expect(worst('healthy', 'healthy')).toBe('healthy')
  })
})
