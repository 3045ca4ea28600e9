import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { PROTOCOL_MINOR } from '@p2p-ai/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NetworkTestJson, SnapshotJson, StressReportJson } from '../src/control/debug-types.js'
import type { Analysis } from '../src/debug/analyze.js'
import { cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

// Two nodes for the file: A, and B which joined through A. A's OTLP headers are a secret.
let home: string
let a: string
let b: string
let bPeerId: string
const SECRET = 'Bearer do-not-leak-me'
const AT = (dir: string) => ['--data-dir', dir]

async function json<T>(args: readonly string[]): Promise<T> {
  const result = await run(args, { home })
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0)
  return JSON.parse(result.stdout) as T
}

beforeAll(async () => {
  home = await tempHome()
  a = join(home, 'a')
  b = join(home, 'b')
  const started = await run(['node', 'start', '--detach', ...AT(a), ...LOCAL_NODE, '--json'], {
    home,
    env: {
      // An endpoint nobody listens on: spans are still kept locally, and the header stays secret.
      P2P_AI_TRACING__OTLP__ENDPOINT: 'http://127.0.0.1:9/v1/traces',
      P2P_AI_TRACING__OTLP__HEADERS: `authorization=${SECRET}`,
    },
  })
  expect(started.code, started.stderr).toBe(0)
  const address = (JSON.parse(started.stdout) as { addresses: string[] }).addresses[0] as string
  const joined = await run(
    ['node', 'start', '--detach', ...AT(b), ...LOCAL_NODE, '--bootstrap', address, '--json'],
    {
      home,
    },
  )
  expect(joined.code, joined.stderr).toBe(0)
  bPeerId = (JSON.parse(joined.stdout) as { peerId: string }).peerId
  // B announces its capabilities to A once connected.
  for (let i = 0; i < 100; i++) {
    const peers = await json<Array<{ peerId: string; capabilities?: unknown }>>([
      'node',
      'peers',
      ...AT(a),
      '--json',
    ])
    if (peers.some((p) => p.peerId === bPeerId && p.capabilities !== undefined)) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}, 60_000)

afterAll(cleanUp)

describe('task trace', () => {
  it("shows a task's spans on both nodes as one timeline, node by node and hop by hop", async () => {
    const task = await json<{ id: string; status: string }>([
      'task',
      'submit',
      ...AT(a),
      '--type',
      'mock',
      '--input',
      'hello trace',
      '--target',
      bPeerId,
      '--wait',
      '--json',
    ])
    expect(task.status).toBe('COMPLETED')
    const trace = await json<{
      traceId: string
      spans: Array<{ name: string; node: string }>
      nodes: Array<{ name: string; peerId: string; runMs: number }>
      hops: Array<{ from: string; to: string; via: string; networkMs: number }>
      missing: string[]
    }>(['task', 'trace', task.id, ...AT(a), '--json'])
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(
      trace.spans
        .filter((s) => s.node === bPeerId)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['queue', 'run', 'serve'])
    expect(trace.nodes.map((n) => n.name)).toEqual(['A', 'B'])
    expect(trace.hops).toEqual([expect.objectContaining({ from: 'A', to: 'B', via: 'attempt → serve' })])
    expect(trace.hops[0]?.networkMs).toBeGreaterThanOrEqual(0)
    expect(trace.missing).toEqual([])
    const text = await run(['task', 'trace', task.id, ...AT(a)], { home })
    expect(text.stdout).toContain(`trace ${trace.traceId}`)
    expect(text.stdout).toMatch(/A → B\s+attempt → serve/)
    const unknown = await run(['task', 'trace', 'no-such-task-0001', ...AT(a)], { home })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no trace of "no-such-task-0001"')
  })
})

describe('debug', () => {
  it('snapshot writes one file with status, peers, recent logs, metrics and the config without its secrets; analyze reads it', async () => {
    const file = join(home, 'snapshot.json')
    const saved = await json<{ path: string }>(['debug', 'snapshot', ...AT(a), '--output', file, '--json'])
    expect(saved.path).toBe(file)
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain('do-not-leak-me')
    const snapshot = JSON.parse(text) as SnapshotJson & {
      config: { tracing: { otlp: { headers: string[] } } }
    }
    expect(snapshot.config.tracing.otlp.headers).toEqual(['[redacted]'])
    expect(snapshot.peers.map((p) => p.peerId)).toContain(bPeerId)
    expect(snapshot.logs.lines.length).toBeGreaterThan(0)
    expect(snapshot.metrics.format).toMatch(/^(prometheus|counters)$/)
    expect(snapshot.process.eventLoop.p99Ms).toBeGreaterThanOrEqual(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)

    const analysis = await json<Analysis>(['debug', 'analyze', '--file', file, '--json'])
    // One peer: worth a word, not an alarm.
    expect(analysis.findings.map((f) => f.id)).toContain('peers.few')
    expect(analysis.findings.every((f) => f.severity !== 'critical')).toBe(true)
    const refused = await run(['debug', 'analyze', '--file', join(home, 'a', 'identity.json')], { home })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('is not a snapshot')
  })

  it("network-test measures each peer's round trips and throughput and names its protocol versions", async () => {
    const result = await json<NetworkTestJson>([
      'debug',
      'network-test',
      ...AT(a),
      '--probe-bytes',
      '65536',
      '--json',
    ])
    expect(result.self.protocolMinor).toBe(PROTOCOL_MINOR)
    const peer = result.peers.find((p) => p.peerId === bPeerId)
    expect(peer).toMatchObject({
      protocolMinor: PROTOCOL_MINOR,
      protocols: { '/p2p-ai/trace/1.0.0': true },
      problems: [],
    })
    expect(peer?.rtt?.samples.length).toBe(5)
    expect(peer?.throughput).toMatchObject({ bytes: 65_536 })
    expect(peer?.throughput?.bytesPerSecond).toBeGreaterThan(0)
  })

  it('stress puts a bounded load on the swarm and reports what came back', async () => {
    const report = await json<StressReportJson>([
      'debug',
      'stress',
      ...AT(a),
      '--duration',
      '1',
      '--task-rate',
      '20',
      '--target',
      bPeerId,
      '--json',
    ])
    expect(report).toMatchObject({ type: 'mock', submitted: 20, completed: 20, failed: 0, skipped: 0 })
    expect(report.byProvider).toEqual({ [bPeerId]: 20 })
    expect(report.latencyMs.p50).toBeGreaterThan(0)
  })

  it('profile and heap-dump write a .cpuprofile and a .heapsnapshot, owner-only, never over a file', async () => {
    const profile = await json<{ path: string; bytes: number }>([
      'debug',
      'profile',
      ...AT(a),
      '--duration',
      '0.3',
      '--json',
    ])
    expect(profile.path).toMatch(new RegExp(`^${join(a, 'debug')}/profile-.*\\.cpuprofile$`))
    const cpu = JSON.parse(await readFile(profile.path, 'utf8')) as { nodes: unknown[]; samples: unknown[] }
    expect(cpu.nodes.length).toBeGreaterThan(0)
    expect((await stat(profile.path)).mode & 0o777).toBe(0o600)

    const path = join(home, 'node.heapsnapshot')
    const heap = await json<{ path: string; bytes: number }>([
      'debug',
      'heap-dump',
      ...AT(a),
      '--output',
      path,
      '--json',
    ])
    expect(heap.path).toBe(path)
    expect((await readFile(path)).subarray(0, 12).toString()).toBe('{"snapshot":')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const again = await run(['debug', 'profile', ...AT(a), '--duration', '0.1', '--output', path], { home })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('exists already')
  })
})
