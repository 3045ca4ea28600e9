import { afterEach, describe, expect, it } from 'vitest'
import { type ExchangeNode, exchangeNode, mesh, mock } from './fixtures/exchange-harness.js'

const nodes: ExchangeNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function spawnNodes(...inits: Parameters<typeof exchangeNode>[0][]): Promise<ExchangeNode[]> {
  const created = await Promise.all(inits.map((init) => exchangeNode(init)))
  nodes.push(...created)
  await mesh(created)
  return created
}

describe('task exchange between two nodes', () => {
  it('runs a task on the peer that announced its type and returns the verified output', async () => {
    const [requester, provider] = await spawnNodes({}, { backends: [mock()] })
    const handle = requester!.exchange.submit({ type: 'mock', input: { text: 'hello p2p ai' } })
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).toBe(provider!.peerId)
    expect(record.output).toMatchObject({ text: 'hello p2p ai', words: 3 })
    expect(record.attempts).toEqual([])
    expect(record.timings?.totalMs).toBeGreaterThanOrEqual(0)
  })
})
