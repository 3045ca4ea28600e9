import { describe, expect, it } from 'vitest'
import { handleSignals } from '../src/signals.js'

// SIGUSR2 stands in for SIGINT/SIGTERM: emitting it only calls listeners, and the test runner
// does not listen for it.
describe('handleSignals', () => {
  it('stops the node on the first signal, then exits 0', async () => {
    let stops = 0
    const codes: number[] = []
    const dispose = handleSignals(
      { stop: async () => void stops++ },
      { signals: ['SIGUSR2'], exit: (code) => codes.push(code) },
    )
    try {
      process.emit('SIGUSR2', 'SIGUSR2')
      await new Promise((r) => setImmediate(r))
      expect(stops).toBe(1)
      expect(codes).toEqual([0])
    } finally {
      dispose()
    }
  })

  it('exits at once with 130 on a second signal while stopping, and 1 when stop fails', async () => {
    const codes: number[] = []
    let finish!: () => void
    const dispose = handleSignals(
      { stop: () => new Promise<void>((resolve) => (finish = resolve)) },
      { signals: ['SIGUSR2'], exit: (code) => codes.push(code), deadlineMs: 1_000 },
    )
    process.emit('SIGUSR2', 'SIGUSR2')
    process.emit('SIGUSR2', 'SIGUSR2')
    expect(codes).toEqual([130])
    finish()
    dispose()

    const failed: number[] = []
    const errors: unknown[] = []
    const dispose2 = handleSignals(
      { stop: () => Promise.reject(new Error('boom')) },
      { signals: ['SIGUSR2'], exit: (code) => failed.push(code), onError: (e) => errors.push(e) },
    )
    process.emit('SIGUSR2', 'SIGUSR2')
    await new Promise((r) => setImmediate(r))
    expect(failed).toEqual([1])
    expect(errors).toHaveLength(1)
    dispose2()
  })

  it('installs nothing until called, and removes its listeners when disposed', () => {
    const before = process.listenerCount('SIGUSR2')
    const dispose = handleSignals({ stop: async () => {} }, { signals: ['SIGUSR2'], exit: () => {} })
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1)
    dispose()
    expect(process.listenerCount('SIGUSR2')).toBe(before)
  })
})
