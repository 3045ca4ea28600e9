import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ComponentLoggers, colourAllowed, createLogger } from '../src/logger.js'

function capture(isTTY = false): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean }
  if (isTTY) stream.isTTY = true
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('logger', () => {
  it('writes JSON lines with ISO time, level name, component, peerId and task id', async () => {
    const out = capture()
    const loggers = new ComponentLoggers(
      createLogger({ destination: out.stream }).child({ peerId: '12D3KooWtest' }),
    )
    loggers.get('engine').info({ taskId: 't-1' }, 'task finished')
    await tick()
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>
    expect(line).toMatchObject({
      level: 'info',
      component: 'engine',
      peerId: '12D3KooWtest',
      taskId: 't-1',
      msg: 'task finished',
    })
    expect(new Date(line.time as string).toISOString()).toBe(line.time)
  })

  it('supports trace to fatal and changes the level of every component at run time', async () => {
    const out = capture()
    const loggers = new ComponentLoggers(createLogger({ destination: out.stream, level: 'info' }))
    const network = loggers.get('network')
    network.debug('hidden')
    loggers.setLevel('trace')
    network.trace('now visible')
    loggers.get('engine').fatal('boom')
    await tick()
    const levels = out
      .text()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { level: string; msg: string }).msg)
    expect(levels).toEqual(['now visible', 'boom'])
    expect(loggers.level).toBe('trace')
  })

  it('prints human-readable lines on a terminal, without colour when NO_COLOR is set', async () => {
    const out = capture(true)
    createLogger({ destination: out.stream, env: { NO_COLOR: '1' } })
      .child({ component: 'node' })
      .warn('hello')
    await tick()
    const text = out.text()
    expect(text).toContain('WARN')
    expect(text).toContain('hello')
    expect(text).not.toContain('\u001b[')
    expect(() => JSON.parse(text)).toThrow()
  })

  it('colours on a terminal when NO_COLOR is absent or empty', async () => {
    const out = capture(true)
    createLogger({ destination: out.stream, env: {} }).info('hi')
    await tick()
    expect(out.text()).toContain('\u001b[')
    expect(colourAllowed({ NO_COLOR: '' })).toBe(true)
    expect(colourAllowed({ NO_COLOR: 'yes' })).toBe(false)
  })

  it('writes JSON to a non-terminal even in auto mode, and pretty when asked', async () => {
    const json = capture()
    createLogger({ destination: json.stream }).info('x')
    const pretty = capture()
    createLogger({ destination: pretty.stream, format: 'pretty', env: {} }).info('y')
    await tick()
    expect(JSON.parse(json.text())).toMatchObject({ msg: 'x' })
    expect(pretty.text()).toContain('INFO')
    expect(pretty.text()).not.toContain('\u001b[')
  })
})
