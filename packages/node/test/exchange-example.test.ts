import { describe, expect, it } from 'vitest'

describe('examples/custom-agent.ts', () => {
  it('registers a task type on one node and runs it from another', async () => {
    const { main } = await import('../examples/custom-agent.js')
    const output = await main()
    expect(output).toMatchObject({
      summary: 'Peers find each other. Each one signs what it asks.',
      sentences: 2,
    })
    expect(output.ranOn).toMatch(/^12D3KooW/)
  })
})
