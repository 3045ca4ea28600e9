import { readFile, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { alive, cleanUp, deadPid, LOCAL_NODE, run, tempHome } from './helpers.js'

/** Starts a detached node in `dataDir` (127.0.0.1 only, no mDNS) and returns what it printed. */
async function startNode(home: string, dataDir: string, extra: string[] = [], env?: Record<string, string>) {
  const r = await run(
    ['node', 'start', '--detach', '--json', '--data-dir', dataDir, ...LOCAL_NODE, ...extra],
    { home, ...(env === undefined ? {} : { env }) },
  )
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as {
    pid: number
    supervisorPid: number
    peerId: string
    addresses: string[]
    control: string
    logFile: string
  }
}

/** The graceful-shutdown deadline of the node that is stopped under a long task. */
const DRAIN_MS = 4000

function json<T = Record<string, unknown>>(text: string): T {
  return JSON.parse(text) as T
}

/** A raw HTTP request to the control API. */
function http(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('a node started with --detach', () => {
  // One node for the tests that only talk to it, in order: they add tasks and change its log
  // level, and the last one stops it. A node start is a few seconds of the suite's time budget.
  describe('asked in turn by the commands of the CLI', () => {
    let home: string
    let dataDir: string
    let started: Awaited<ReturnType<typeof startNode>>
    beforeAll(async () => {
      home = await tempHome()
      dataDir = join(home, 'node-a')
      started = await startNode(home, dataDir, ['--metrics-port', '0', '--cpu-limit', '50'])
    }, 90_000)
    afterAll(cleanUp)

    it('runs in the background, answers status, peers and tasks', async () => {
      expect(alive(started.pid)).toBe(true)
      expect(started.addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
      expect(started.control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(Number.parseInt(await readFile(join(dataDir, 'node.pid'), 'utf8'), 10)).toBe(started.pid)
      expect((await stat(join(dataDir, 'control.token'))).mode & 0o777).toBe(0o600)

      const status = await run(['node', 'status', '--json', '--data-dir', dataDir], { home })
      expect(status.code).toBe(0)
      const s = json<{
        peerId: string
        state: string
        ready: boolean
        pid: number
        capabilities: { taskTypes: string[] }
        alerts: Array<{ name: string; active: boolean }>
        metrics: { url: string }
      }>(status.stdout)
      expect(s.metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      expect(s.alerts.map((a) => a.name)).toContain('peers_low')
      expect(s).toMatchObject({
        peerId: started.peerId,
        state: 'ACTIVE',
        ready: true,
        pid: started.pid,
        resources: { limits: { cpu: 0.5, idleOnly: false }, paused: false },
      })
      expect(s.capabilities.taskTypes).toEqual(expect.arrayContaining(['mock', 'chunk', 'embed', 'ocr']))
      // On loopback, with nobody on a public address around, nothing tells whether it is reachable.
      expect(s).toMatchObject({
        network: {
          reachability: 'unknown',
          observed: [],
          relays: [],
          dht: { mode: 'client' },
          holePunch: { mapping: 'unknown', punched: 0 },
        },
      })
      const readableStatus = await run(['node', 'status', '--data-dir', dataDir], { home })
      expect(readableStatus.stdout).toMatch(
        /reachability:\s+unknown \(no peer on a public address has talked to it yet\)/,
      )
      expect(readableStatus.stdout).toMatch(/relays:\s+no reservation/)
      expect(readableStatus.stdout).toMatch(/limits:\s+cpu 50 %, models 0 B of/)
      expect(readableStatus.stdout).toMatch(/serving:\s+taking tasks from peers/)
      expect(readableStatus.stdout).toMatch(
        /hole punch:\s+port \d+ → mapping not observed yet; 0 punched, 0 failed/,
      )

      const peers = await run(['node', 'peers', '--json', '--data-dir', dataDir], { home })
      expect(peers.code).toBe(0)
      expect(json(peers.stdout)).toEqual([])
      const stranger = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
      const unban = await run(['node', 'unban', stranger, '--data-dir', dataDir], { home })
      expect([unban.code, unban.stdout.trim()]).toEqual([0, `${stranger} is not banned`])
      const notAPeer = await run(['node', 'unban', '12D3KooWnope', '--data-dir', dataDir], { home })
      expect(notAPeer.code).toBe(2)
      expect(notAPeer.stderr).toMatch(/a PeerId looks like 12D3KooW/)

      const mock = await run(
        ['task', 'submit', '--type', 'mock', '--input', 'hi', '--wait', '--json', '--data-dir', dataDir],
        { home },
      )
      expect(mock.code).toBe(0)
      const done = json<{
        id: string
        status: string
        output: { text: string; length: number; words: number }
      }>(mock.stdout)
      expect(done.status).toBe('COMPLETED')
      expect(done.output).toMatchObject({ text: 'hi', length: 2, words: 1 })

      const text = 'First sentence here. Second sentence there. Third one at the end.'
      const chunk = await run(
        ['task', 'submit', '--type', 'chunk', '--input', text, '--param', 'size=25', '--data-dir', dataDir],
        { home },
      )
      expect(chunk.code).toBe(0)
      const chunkId = chunk.stdout.trim()
      expect(chunk.stderr).toContain(`task status ${chunkId}`)
      const result = await run(
        ['task', 'result', chunkId, '--wait', '--format', 'json', '--data-dir', dataDir],
        { home },
      )
      expect(result.code).toBe(0)
      const chunks = json<{ chunks: Array<{ text: string; start: number; end: number }> }>(
        result.stdout,
      ).chunks
      expect(chunks.length).toBeGreaterThan(1)
      for (const c of chunks) {
        expect(c.text.length).toBeLessThanOrEqual(25)
        expect(text.slice(c.start, c.end).trim()).toBe(c.text)
      }
      const readable = await run(['task', 'result', chunkId, '--data-dir', dataDir], { home })
      expect(readable.stdout).toContain(`[0] 0–${chunks[0]!.end} ${chunks[0]!.text}`)

      const list = await run(['task', 'list', '--json', '--data-dir', dataDir], { home })
      const page = json<{ tasks: Array<{ id: string; type: string; status: string }>; limit: number }>(
        list.stdout,
      )
      expect(page.limit).toBe(20)
      expect(page.tasks.map((t) => [t.id, t.type, t.status])).toEqual([
        [chunkId, 'chunk', 'COMPLETED'],
        [done.id, 'mock', 'COMPLETED'],
      ])
      const second = await run(
        ['task', 'list', '--limit', '1', '--offset', '1', '--json', '--data-dir', dataDir],
        { home },
      )
      expect(json<{ tasks: Array<{ id: string }> }>(second.stdout).tasks.map((t) => t.id)).toEqual([done.id])

      const one = await run(['task', 'status', done.id, '--data-dir', dataDir], { home })
      expect(one.stdout).toMatch(/status:\s+COMPLETED/)
      expect(one.stdout).toMatch(/ran on:\s+this node/)

      const monitor = await run(
        ['node', 'monitor', '--interval', '0.3', '--duration', '1', '--json', '--data-dir', dataDir],
        { home },
      )
      expect(monitor.code).toBe(0)
      const samples = monitor.stdout
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as {
              status: { state: string; tasks: { completed: number } }
              throughputPerSec: number
            },
        )
      expect(samples.length).toBeGreaterThanOrEqual(3)
      for (const sample of samples)
        expect(sample.status).toMatchObject({ state: 'ACTIVE', tasks: { completed: 2 } })
      const lines = await run(
        ['node', 'monitor', '--interval', '0.3', '--duration', '0.5', '--data-dir', dataDir],
        { home },
      )
      expect(lines.stdout).toMatch(
        /^\S+Z ACTIVE peers=0 running=0 queued=0 completed=2 failed=0 cancelled=0 throughput=0\.00\/s$/m,
      )

      // Its metrics: on the endpoint it serves, and through the control API.
      const scraped = await (await fetch(s.metrics.url)).text()
      expect(scraped).toContain('p2p_ai_tasks_total{side="submitted",type="mock",outcome="completed"} 1\n')
      const printed = await run(['node', 'metrics', '--data-dir', dataDir], { home })
      expect(printed.stdout).toContain(
        'p2p_ai_tasks_total{side="submitted",type="chunk",outcome="completed"} 1\n',
      )
      expect(printed.stdout).toContain('# TYPE libp2p_data_transfer_bytes_total counter')
    }, 90_000)

    it('reports failed, invalid and cancelled tasks with exit code 4, and refuses a task type nobody runs with exit 2', async () => {
      const failed = await run(
        [
          'task',
          'submit',
          '--type',
          'mock',
          '--input-json',
          '{"text":"x","fail":true}',
          '--wait',
          '--data-dir',
          dataDir,
        ],
        { home },
      )
      expect(failed.code).toBe(4)
      // The mock's own code is not a task error code: the task failed on its own terms and says how.
      expect(failed.stderr).toMatch(/error: task \S+ failed: ERR_MOCK_FAILURE: .*\[ERR_TASK_FAILED\]/)
      const unknown = await run(
        ['task', 'submit', '--type', 'translate', '--input', 'x', '--data-dir', dataDir],
        { home },
      )
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain('no node runs task type "translate": not this one (it runs ')
      expect(unknown.stderr).toContain('hint: see what the node runs with `p2p-ai-agents node status`')
      // The node that runs a task checks its input (it may be a peer): a bad one fails the task.
      const badInput = await run(
        [
          'task',
          'submit',
          '--type',
          'chunk',
          '--input',
          'x',
          '--param',
          'size=0',
          '--wait',
          '--data-dir',
          dataDir,
        ],
        { home },
      )
      expect(badInput.code).toBe(4)
      expect(badInput.stderr).toMatch(/failed: .*size.*\[ERR_INVALID_INPUT\]/)
      expect(badInput.stderr).toContain('hint: check the input fields of a chunk task')
      const slow = await run(
        [
          'task',
          'submit',
          '--type',
          'mock',
          '--input-json',
          '{"text":"x","latencyMs":20000}',
          '--data-dir',
          dataDir,
        ],
        { home },
      )
      const slowId = slow.stdout.trim()
      const early = await run(['task', 'result', slowId, '--data-dir', dataDir], { home })
      expect(early.code).toBe(1)
      expect(early.stderr).toMatch(/has not finished: it is (PENDING|QUEUED|RUNNING)/)
      expect(early.stderr).toContain(`task result ${slowId} --wait`)
      const cancel = await run(['task', 'cancel', slowId, '--data-dir', dataDir], { home })
      expect(cancel.stdout).toContain(`cancelled task ${slowId}`)
      const cancelled = await run(['task', 'result', slowId, '--wait', '--data-dir', dataDir], { home })
      expect(cancelled.code).toBe(4)
      expect(cancelled.stderr).toContain(`task ${slowId} was cancelled`)
      const again = await run(['task', 'cancel', slowId, '--data-dir', dataDir], { home })
      expect(again.stdout).toContain('had already finished (CANCELLED)')
      // A target that is not a PeerId is a bad value: exit 2, as for any other.
      const badTarget = await run(
        [
          'task',
          'submit',
          '--type',
          'mock',
          '--input',
          'x',
          '--target',
          'not-a-peer-id',
          '--data-dir',
          dataDir,
        ],
        { home },
      )
      expect(badTarget.code).toBe(2)
      expect(badTarget.stderr).toContain('"not-a-peer-id"')
      expect(badTarget.stderr).toContain('hint: --target takes a PeerId')
      const missing = await run(['task', 'result', 'no-such-task', '--data-dir', dataDir], { home })
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain('no task with id "no-such-task"')
    }, 90_000)

    it('requires the token: no token or a wrong one gets 401, another Host gets 403', async () => {
      const { control } = started
      const token = (await readFile(join(dataDir, 'control.token'), 'utf8')).trim()
      expect(token).toMatch(/^[0-9a-f]{64}$/)
      const none = await http(control, '/v1/status', {})
      expect(none.status).toBe(401)
      expect(none.body.error?.code).toBe('ERR_UNAUTHORIZED')
      const wrong = await http(control, '/v1/status', { authorization: `Bearer ${'0'.repeat(64)}` })
      expect(wrong.status).toBe(401)
      const rebound = await http(control, '/v1/status', {
        authorization: `Bearer ${token}`,
        host: 'evil.example:80',
      })
      expect(rebound.status).toBe(403)
      const ok = await http(control, '/v1/status', { authorization: `Bearer ${token}` })
      expect(ok.status).toBe(200)
    }, 90_000)

    it('changes its log level while it runs, and stops cleanly', async () => {
      // Its log level, changed while it runs; the next lines of its log follow it.
      const level = await run(['node', 'log-level', 'debug', '--json', '--data-dir', dataDir], { home })
      expect(json(level.stdout)).toEqual({ level: 'debug', previous: 'info' })
      const now = await run(['node', 'log-level', '--data-dir', dataDir], { home })
      expect(now.stdout.trim()).toBe('debug')
      const wrong = await run(['node', 'log-level', 'loud', '--data-dir', dataDir], { home })
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toContain('unknown log level "loud"')

      const stop = await run(['node', 'stop', '--data-dir', dataDir], { home })
      expect(stop.code).toBe(0)
      expect(stop.stdout).toContain(`stopped the node`)
      expect(alive(started.pid)).toBe(false)
      // The change is in its log, and DEBUG lines follow it (none came before).
      const log = (await readFile(started.logFile, 'utf8')).split('\n').filter((l) => l !== '')
      const changed = log.findIndex((l) => l.includes('"msg":"log level debug"'))
      expect(changed).toBeGreaterThan(0)
      expect(log.slice(0, changed).some((l) => l.includes('"level":"debug"'))).toBe(false)
      expect(log.slice(changed).some((l) => l.includes('"level":"debug"'))).toBe(true)
      for (const file of ['node.pid', 'control.json', 'control.token']) {
        await expect(stat(join(dataDir, file)), file).rejects.toThrow(/ENOENT/)
      }
      const gone = await run(['node', 'status', '--data-dir', dataDir], { home })
      expect(gone.code).toBe(3)
    }, 90_000)
  })

  describe('each with a node of its own', () => {
    afterEach(cleanUp)

    it('refuses a second node on the same data directory, finds its peer through --bootstrap, and sends it tasks', async () => {
      const home = await tempHome()
      const a = await startNode(home, join(home, 'node-a'))
      const again = await run(
        ['node', 'start', '--detach', '--data-dir', join(home, 'node-a'), ...LOCAL_NODE],
        { home },
      )
      expect(again.code).toBe(1)
      expect(again.stderr).toContain(`a node is already running from ${join(home, 'node-a')} (pid ${a.pid})`)
      const b = await startNode(home, join(home, 'node-b'), ['--bootstrap', a.addresses[0]!])
      let peers: Array<{ peerId: string; status: string }> = []
      for (let i = 0; i < 50 && peers.length === 0; i++) {
        const r = await run(['node', 'peers', '--json', '--data-dir', join(home, 'node-b')], { home })
        peers = json(r.stdout)
        if (peers.length === 0) await new Promise((resolve) => setTimeout(resolve, 200))
      }
      expect(peers).toEqual([expect.objectContaining({ peerId: a.peerId, status: 'connected' })])
      const fromA = await run(['node', 'peers', '--data-dir', join(home, 'node-a')], { home })
      expect(fromA.stdout).toContain(b.peerId)
      expect(fromA.stdout).toMatch(/PEER\s+STATUS\s+CONNECTION/)
      expect(fromA.stdout).toMatch(new RegExp(`${b.peerId}\\s+connected\\s+direct`))
      expect(fromA.stdout).toContain('1 connected (0 through a relay), 0 failed')

      // node connect: an address it is connected to already, then ones it cannot use.
      const connected = await run(
        ['node', 'connect', a.addresses[0]!, '--json', '--data-dir', join(home, 'node-b')],
        {
          home,
        },
      )
      expect(connected.code).toBe(0)
      expect(json(connected.stdout)).toMatchObject({
        connected: true,
        peerId: a.peerId,
        connection: { kind: 'direct', limited: false },
      })
      const noPeerId = await run(
        ['node', 'connect', '/ip4/127.0.0.1/tcp/1', '--data-dir', join(home, 'node-b')],
        {
          home,
        },
      )
      expect(noPeerId.code).toBe(2)
      expect(noPeerId.stderr).toContain('give a PeerId, or a multiaddr ending in /p2p/<peerId>')
      expect(noPeerId.stderr).toContain('hint: give a PeerId, or a multiaddr ending in /p2p/<peerId>')
      const notAPeer = await run(['node', 'connect', 'not-a-peer-id', '--data-dir', join(home, 'node-b')], {
        home,
      })
      expect(notAPeer.code).toBe(2)
      expect(notAPeer.stderr).toContain('invalid peer address "not-a-peer-id"')
      const nobody = await run(
        [
          'node',
          'connect',
          '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN',
          '--data-dir',
          join(home, 'node-b'),
        ],
        { home },
      )
      expect(nobody.code).toBe(1)
      expect(nobody.stderr).toContain('could not connect to /ip4/127.0.0.1/tcp/1')

      // B sends a task to A by PeerId; A runs it and B shows where it ran.
      const nodeB = ['--data-dir', join(home, 'node-b')]
      const targeted = await run(
        [
          'task',
          'submit',
          '--type',
          'mock',
          '--input',
          'over there',
          '--target',
          a.peerId,
          '--wait',
          '--json',
          ...nodeB,
        ],
        { home },
      )
      expect(targeted.stderr).toBe('')
      expect(JSON.parse(targeted.stdout)).toMatchObject({
        status: 'COMPLETED',
        backend: 'remote',
        meta: { peer: a.peerId },
        output: { text: 'over there' },
      })

      // Redundancy 2: B and A both run it and agree.
      let announced = false
      for (let i = 0; i < 50 && !announced; i++) {
        const r = JSON.parse((await run(['node', 'peers', '--json', ...nodeB], { home })).stdout) as Array<{
          capabilities?: { taskTypes?: string[] }
        }>
        announced = r[0]?.capabilities?.taskTypes?.includes('chunk') === true
        if (!announced) await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const twice = await run(
        [
          'task',
          'submit',
          '--type',
          'chunk',
          '--input',
          'One. Two. Three.',
          '--param',
          'size=6',
          '--redundancy',
          '2',
          '--wait',
          '--json',
          ...nodeB,
        ],
        { home },
      )
      expect(twice.stderr).toBe('')
      const voted = JSON.parse(twice.stdout) as {
        status: string
        backend: string
        meta: { agreement: string; peers: string }
      }
      expect(voted).toMatchObject({ status: 'COMPLETED', backend: 'redundant', meta: { agreement: '2/2' } })
      expect(voted.meta.peers.split(',').sort()).toEqual([a.peerId, b.peerId].sort())
      const pinned = await run(
        [
          'task',
          'submit',
          '--type',
          'chunk',
          '--input',
          'x',
          '--redundancy',
          '2',
          '--target',
          a.peerId,
          ...nodeB,
        ],
        { home },
      )
      expect(pinned.code).toBe(2)
      expect(pinned.stderr).toContain('redundancy picks its own peers: it does not go with a target')

      // B restarts: the task it sent to A is still known, from B's store of submitted tasks.
      const sent = JSON.parse(targeted.stdout) as { id: string }
      expect((await run(['node', 'stop', ...nodeB], { home })).code).toBe(0)
      await startNode(home, join(home, 'node-b'))
      const status = await run(['task', 'status', sent.id, '--json', ...nodeB], { home })
      expect(status.stderr).toBe('')
      expect(JSON.parse(status.stdout)).toMatchObject({
        id: sent.id,
        status: 'COMPLETED',
        backend: 'remote',
        meta: { peer: a.peerId },
        output: { text: 'over there' },
      })
      const listed = await run(['task', 'list', '--json', ...nodeB], { home })
      expect((JSON.parse(listed.stdout) as { tasks: unknown[] }).tasks).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: sent.id, status: 'COMPLETED' })]),
      )
    }, 90_000)

    it('stops at once while a client waits on a long task, and keeps its data directory locked until its process exits', async () => {
      const home = await tempHome()
      const dataDir = join(home, 'node-a')
      // A drain shorter than the default 8 s: the task outlasts it all the same.
      const started = await startNode(home, dataDir, [], { P2P_AI_SHUTDOWN__DEADLINE_MS: String(DRAIN_MS) })
      const submitted = await run(
        [
          'task',
          'submit',
          '--type',
          'mock',
          '--input-json',
          '{"text":"x","latencyMs":20000}',
          '--data-dir',
          dataDir,
        ],
        { home },
      )
      const id = submitted.stdout.trim()
      const waiter = run(['task', 'result', id, '--wait', '--data-dir', dataDir], { home }).then((r) => ({
        ...r,
        at: Date.now(),
      }))
      // The waiter's long-poll is open before the node is asked to stop.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const t0 = Date.now()
      const stopping = run(['node', 'stop', '--timeout', '10', '--data-dir', dataDir], { home })
      // The lock (node.pid) is there for as long as the process lives: it goes when the process
      // exits, never while the node could still touch its store.
      let unlockedWhileAlive: number | undefined
      for (;;) {
        const pid = await readFile(join(dataDir, 'node.pid'), 'utf8').then(
          (t) => Number.parseInt(t, 10),
          () => undefined,
        )
        if (!alive(started.pid)) break
        if (pid !== started.pid) {
          // Exiting takes a moment after the lock is released; alive well after it is a bug.
          await new Promise((resolve) => setTimeout(resolve, 500))
          if (alive(started.pid)) unlockedWhileAlive ??= Date.now() - t0
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const stop = await stopping
      expect(stop.stderr).toBe('')
      expect(stop.code).toBe(0)
      expect(unlockedWhileAlive).toBeUndefined()
      // The waiter was answered when the shutdown began, not when the task would have finished.
      const waited = await waiter
      expect(waited.code).not.toBe(0)
      // The task itself still runs (a graceful stop gives it the drain); the waiter is told so.
      expect(waited.stderr).toMatch(
        /the node is shutting down: stopped waiting for task \S+, which is (RUNNING|QUEUED)/,
      )
      expect(waited.stderr).not.toContain('looks like a bug')
      expect(waited.at - t0).toBeLessThan(DRAIN_MS)
      for (const file of ['node.pid', 'control.json', 'control.token']) {
        await expect(stat(join(dataDir, file)), file).rejects.toThrow(/ENOENT/)
      }
    }, 90_000)

    it('starts over a stale pid file left by a node that died', async () => {
      const home = await tempHome()
      const dataDir = join(home, 'node-a')
      const first = await startNode(home, dataDir)
      // Both gone at once (a power cut, the OOM killer): the watchdog is not there to restart it.
      process.kill(first.supervisorPid, 'SIGKILL')
      process.kill(first.pid, 'SIGKILL')
      while (alive(first.pid) || alive(first.supervisorPid))
        await new Promise((resolve) => setTimeout(resolve, 50))
      // The killed node left its pid and control files behind.
      expect(Number.parseInt(await readFile(join(dataDir, 'node.pid'), 'utf8'), 10)).toBe(first.pid)
      const status = await run(['node', 'status', '--data-dir', dataDir], { home })
      expect(status.code).toBe(3)
      expect(status.stderr).toContain(`pid ${first.pid}, which is not running`)
      await writeFile(join(dataDir, 'node.pid'), `${await deadPid()}\n`)
      const second = await startNode(home, dataDir)
      expect(second.peerId).toBe(first.peerId)
      expect((await run(['node', 'status', '--data-dir', dataDir], { home })).code).toBe(0)
    }, 90_000)

    it('reports a start that fails: a taken port, with advice, and no files left behind', async () => {
      const home = await tempHome()
      // Held by a listener in this process, as another node would hold it.
      const taken = createServer()
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
      onTestFinished(() => new Promise<void>((resolve) => taken.close(() => resolve())))
      const port = (taken.address() as AddressInfo).port
      const dataDir = join(home, 'node-b')
      const r = await run(
        [
          'node',
          'start',
          '--detach',
          '--data-dir',
          dataDir,
          '--listen',
          `/ip4/127.0.0.1/tcp/${port}`,
          '--no-mdns',
        ],
        { home },
      )
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/error: .*(EADDRINUSE|address already in use)/i)
      await expect(stat(join(dataDir, 'node.pid'))).rejects.toThrow(/ENOENT/)
    }, 90_000)
  })
})
