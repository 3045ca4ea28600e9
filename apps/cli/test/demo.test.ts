import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { alive, cleanUp, run, tempHome } from './helpers.js'

afterEach(cleanUp)

describe('demo', () => {
  it('starts nodes on 127.0.0.1 that find each other, runs tasks across them, reports and stops', async () => {
    const home = await tempHome()
    const env = { P2P_AI_DEMO_DIR: join(home, 'demo') }
    const started = await run(['demo', 'start', '--nodes', '2', '--json'], { home, env })
    expect(started.stderr).toBe('')
    expect(started.code).toBe(0)
    const state = JSON.parse(started.stdout) as {
      nodes: Array<{ name: string; pid: number; peerId: string; address: string }>
      peers: number[]
    }
    expect(state.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2'])
    for (const n of state.nodes) expect(n.address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    expect(state.peers).toEqual([1, 1])

    const tasks = await run(['demo', 'tasks', '--count', '2', '--type', 'embed', '--json'], { home, env })
    expect(tasks.code).toBe(0)
    const report = JSON.parse(tasks.stdout) as {
      results: Array<{
        ranOn: string
        task: { status: string; output: { dimensions: number } }
        check: { ok: boolean; detail: string }
      }>
    }
    expect(report.results).toHaveLength(2)
    for (const r of report.results) {
      expect(r.task.status).toBe('COMPLETED')
      expect(r.task.output.dimensions).toBe(32)
      // Recomputed here with the same model, as `demo run` checks it.
      expect(r.check).toMatchObject({ ok: true, detail: expect.stringContaining('same as computed here') })
    }
    // More tasks than one node has slots for (4, each taking 200 ms): both nodes get work.
    const spread = await run(['demo', 'tasks', '--count', '12', '--type', 'mock', '--json'], { home, env })
    expect(spread.code).toBe(0)
    const ranOn = (JSON.parse(spread.stdout) as { results: Array<{ ranOn: string }> }).results.map(
      (r) => r.ranOn,
    )
    expect(new Set(ranOn)).toEqual(new Set(['node-1', 'node-2']))

    const stats = await run(['demo', 'stats', '--json'], { home, env })
    const s = JSON.parse(stats.stdout) as { online: number; connections: number; completed: number }
    expect(s).toMatchObject({ online: 2, connections: 1, completed: 14 })
    // The other types of the demo's workload work here too: an image read back.
    const ocr = await run(['demo', 'tasks', '--count', '1', '--type', 'ocr'], { home, env })
    expect(ocr.code).toBe(0)
    expect(ocr.stdout).toContain('1/1 completed and checked')

    const stopped = await run(['demo', 'stop'], { home, env })
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toContain('node-1 graceful, node-2 graceful')
    for (const n of state.nodes) expect(alive(n.pid)).toBe(false)
    expect((await run(['demo', 'stats'], { home, env })).code).toBe(3)
  }, 120_000)

  it('runs from a prompt (here piped): tasks, stats, kill, and a summary on leaving', async () => {
    const home = await tempHome()
    const env = { P2P_AI_DEMO_DIR: join(home, 'demo') }
    const r = await run(['demo', 'interactive', '--nodes', '2'], {
      home,
      env,
      input: 'tasks 3 mock\nwait\nstats\nkill node-2\nnodes\nbogus\nquit\n',
      timeoutMs: 110_000,
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('3/3 completed')
    expect(r.stdout).toMatch(/2\/2 nodes online, 1 peer connections, 3 tasks completed/)
    expect(r.stdout).toContain('killed node-2')
    expect(r.stdout).toMatch(/node-2\s+\S+\s+\d+\s+down/)
    expect(r.stdout).toContain('unknown command "bogus"')
    expect(r.stdout).toMatch(/demo summary[\s\S]*killed: node-2[\s\S]*3 submitted, 3 completed, 0 failed/)
  }, 120_000)
})
