// What `handle.stream()` yields, from the log a task keeps of what it streamed.
import { describe, expect, it } from 'vitest'
import { TaskStreamLog } from '../src/exchange/request/stream-log.js'
import type { TaskStreamEvent } from '../src/exchange/types.js'

async function read(iterator: AsyncIterable<TaskStreamEvent>): Promise<TaskStreamEvent[]> {
  const events: TaskStreamEvent[] = []
  for await (const event of iterator) events.push(event)
  return events
}

describe('the stream of a task', () => {
  it('yields deltas as they come to every reader, and ends when the task completes with that text', async () => {
    const log = new TaskStreamLog()
    const early = read(log.iterate())
    log.delta('Hello')
    const late = read(log.iterate())
    log.delta(' you')
    expect(log.complete({ text: 'Hello you' })).toBe(true)
    const expected = [
      { type: 'delta', text: 'Hello' },
      { type: 'delta', text: ' you' },
    ]
    expect(await early).toEqual(expected)
    expect(await late).toEqual(expected)
    // Once the task has ended, a reader gets the text in one piece.
    expect(await read(log.iterate())).toEqual([{ type: 'delta', text: 'Hello you' }])
  })

  it('says to drop what a failed attempt streamed, and checks only the last attempt', async () => {
    const log = new TaskStreamLog()
    const reader = read(log.iterate())
    log.delta('Hel')
    log.restart({ code: 'ERR_PEER_DISCONNECTED', message: 'gone' }, '12D3KooWfake')
    log.delta('Hello')
    expect(log.complete({ text: 'Hello' })).toBe(true)
    expect(await reader).toEqual([
      { type: 'delta', text: 'Hel' },
      {
        type: 'restart',
        reason: { code: 'ERR_PEER_DISCONNECTED', message: 'gone' },
        peer: '12D3KooWfake',
        discarded: 3,
      },
      { type: 'delta', text: 'Hello' },
    ])
  })

  it('reports a streamed text that is not the signed one, and yields the whole text when none streamed', async () => {
    const lied = new TaskStreamLog()
    lied.delta('Hello')
    expect(lied.complete({ text: 'Goodbye' })).toBe(false)
    const quiet = new TaskStreamLog()
    const reader = read(quiet.iterate())
    quiet.complete({ text: 'Goodbye', finishReason: 'stop' })
    expect(await reader).toEqual([{ type: 'delta', text: 'Goodbye' }])
    const none = new TaskStreamLog()
    none.complete({ vectors: [[1, 2]] })
    expect(await read(none.iterate())).toEqual([])
  })

  it('rejects readers with the task’s failure, and a reader’s own signal stops only that reader', async () => {
    const log = new TaskStreamLog()
    const controller = new AbortController()
    const stopped = log.iterate({ signal: controller.signal })
    const pending = stopped.next()
    controller.abort(new Error('stop reading'))
    await expect(pending.then(() => stopped.next())).rejects.toThrow('stop reading')
    const failing = read(log.iterate())
    log.fail(Object.assign(new Error('no'), { code: 'ERR_CANCELLED' }))
    await expect(failing).rejects.toMatchObject({ code: 'ERR_CANCELLED' })
  })
})
