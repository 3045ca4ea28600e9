// How a chat completion streams when the task's own stream restarts (failover) or disagrees with
// the signed text: a handle whose stream is scripted, and a response that records what it is sent.
import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { NetworkTaskHandle, TaskStreamEvent } from '../src/exchange/types.js'
import { type GenerationOutput, streamChat } from '../src/openai/chat.js'

function scripted(events: TaskStreamEvent[], text: string): NetworkTaskHandle<GenerationOutput> {
  return {
    id: 'task-0001',
    record: () => ({ submittedAt: 1_767_225_600_000 }),
    stream: async function* () {
      yield* events
    },
    output: async () => ({ text, finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 4 } }),
  } as unknown as NetworkTaskHandle<GenerationOutput>
}

/** A response that keeps the server-sent events it was written. */
function recorder() {
  const written: string[] = []
  let status = 0
  const res = {
    headersSent: false,
    writableEnded: false,
    writeHead(code: number) {
      status = code
      res.headersSent = true
      return res
    },
    flushHeaders() {},
    setHeader() {},
    write(chunk: string) {
      written.push(chunk)
      return true
    },
    end(chunk?: string) {
      if (chunk !== undefined) written.push(chunk)
      res.writableEnded = true
    },
  }
  const events = () =>
    written
      .join('')
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6))
  return {
    res: res as unknown as ServerResponse,
    status: () => status,
    content: () =>
      events()
        .filter((e) => e !== '[DONE]')
        .map((e) => JSON.parse(e) as { choices?: Array<{ delta: { content?: string } }> })
        .map((e) => e.choices?.[0]?.delta.content ?? '')
        .join(''),
    events,
  }
}

const request = { model: 'tiny', input: {}, stream: true, includeUsage: false }
const restart: TaskStreamEvent = {
  type: 'restart',
  reason: { code: 'ERR_PEER_DISCONNECTED', message: 'gone' },
  peer: '12D3KooWfake',
  discarded: 9,
}

describe('a streamed chat completion across a failover', () => {
  it('carries on where it was when the new provider repeats the text (greedy or seeded decoding)', async () => {
    const r = recorder()
    const handle = scripted(
      [
        { type: 'delta', text: 'Hello! Ho' },
        restart,
        { type: 'delta', text: 'Hel' },
        { type: 'delta', text: 'lo! How can' },
        { type: 'delta', text: ' I help you?' },
      ],
      'Hello! How can I help you?',
    )
    await streamChat(r.res, request, handle, new AbortController().signal)
    expect(r.status()).toBe(200)
    expect(r.content()).toBe('Hello! How can I help you?')
    expect(r.events().at(-1)).toBe('[DONE]')
  })

  it('ends with an error event when the new provider writes other text', async () => {
    const r = recorder()
    const handle = scripted(
      [{ type: 'delta', text: 'Hello! Ho' }, restart, { type: 'delta', text: 'Goodbye' }],
      'Goodbye',
    )
    await streamChat(r.res, request, handle, new AbortController().signal)
    expect(r.content()).toBe('Hello! Ho')
    expect(JSON.parse(r.events().at(-1) as string)).toMatchObject({
      error: { code: 'stream_restarted', type: 'server_error' },
    })
  })

  it('ends with an error event when what streamed is not the signed text', async () => {
    const r = recorder()
    const handle = scripted(
      [
        { type: 'delta', text: 'Hello' },
        { type: 'mismatch', streamed: 'Hello', text: 'Bye' },
      ],
      'Bye',
    )
    await streamChat(r.res, request, handle, new AbortController().signal)
    expect(JSON.parse(r.events().at(-1) as string)).toMatchObject({ error: { code: 'stream_mismatch' } })
  })
})
