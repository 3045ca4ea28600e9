/**
 * A node's metrics, scraped for real: two nodes on 127.0.0.1 exchange tasks both ways (one of
 * them fails), the observed node serves its registry on /metrics behind a token, and what a
 * scrape gets is checked by Prometheus's own `promtool check metrics` (Debian's `prometheus`
 * package; `.ci/run` installs it) and against docs/observability.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mockBackend } from '@p2p-ai/engine'
import { createNode, type NodeInit, type P2PNode } from '@p2p-ai/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CappedLabel,
  MAX_LABEL_VALUES,
  METRIC_LIST,
  type MetricsServer,
  nodeMetrics,
  serveMetrics,
  transportOf,
} from '../src/index.js'

const TOKEN = 'scrape-token-1234'
const dirs: string[] = []
let observed: P2PNode
let peer: P2PNode
let server: MetricsServer
const metrics = nodeMetrics()

async function localNode(extra: NodeInit = {}): Promise<P2PNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-metrics-'))
  dirs.push(dataDir)
  return createNode({
    dataDir,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    backends: [mockBackend({ worker: false })],
    engineOptions: { workers: false },
    ...extra,
  })
}

/** One scrape, as Prometheus makes it. */
async function scrape(init: RequestInit = {}): Promise<Response> {
  return fetch(server.url, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } })
}

/** `name{labels} value` lines of an exposition, by series. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** `promtool check metrics` on `text`: its exit code and what it printed. */
function promtool(text: string): { status: number | null; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error !== undefined) {
    throw new Error(
      `promtool is needed for this test (Debian: apt-get install prometheus; .ci/run installs it): ${r.error.message}`,
    )
  }
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '')
  return { status: r.status, problems }
}

beforeAll(async () => {
  observed = await localNode({ libp2pMetrics: metrics.libp2p })
  metrics.attach(observed)
  peer = await localNode()
  await observed.connect(peer.getMultiaddrs()[0]!)
  const deadline = Date.now() + 10_000
  while (
    observed.peer(peer.peerId)?.capabilities === undefined ||
    peer.peer(observed.peerId)?.capabilities === undefined
  ) {
    if (Date.now() > deadline) throw new Error('no capabilities announced')
    await new Promise((r) => setTimeout(r, 20))
  }
  const sent = [
    ...Array.from({ length: 3 }, (_, i) =>
      observed.submit({ type: 'mock', input: { text: `out ${i}` } }, { target: peer.peerId }),
    ),
    observed.submit({ type: 'mock', input: { text: 'x', fail: true } }, { target: peer.peerId }),
    ...Array.from({ length: 2 }, (_, i) =>
      peer.submit({ type: 'mock', input: { text: `in ${i}` } }, { target: observed.peerId }),
    ),
  ]
  await Promise.all(sent.map((h) => h.result()))
  server = await serveMetrics(metrics, { port: 0, token: TOKEN })
})

afterAll(async () => {
  await server?.close()
  await Promise.all([observed?.stop(), peer?.stop()])
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('the metrics endpoint', () => {
  it('serves the exposition at /metrics on loopback, only to a scraper with the token', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    expect((await fetch(server.url)).status).toBe(401)
    expect((await scrape({ headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const ok = await scrape()
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await ok.text()).toContain('# TYPE p2p_ai_tasks_total counter')
    expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404)
    expect((await scrape({ method: 'POST' })).status).toBe(405)
  })

  it('passes promtool: the exposition parses, and the p2p-ai families lint clean', async () => {
    const text = await (await scrape()).text()
    const all = promtool(text)
    // 0: clean; 3: lint problems only (1 would be a parse error). The problems promtool finds in
    // the whole exposition are in families we do not name: libp2p's and prom-client's gauges
    // called `..._total`.
    expect([0, 3]).toContain(all.status)
    for (const problem of all.problems) expect(problem).toMatch(/^(libp2p|nodejs)_\w+ /)
    const ours = text
      .split(/(?=^# HELP )/m)
      .filter((family) => family.startsWith('# HELP p2p_ai_'))
      .join('')
    expect(promtool(ours)).toEqual({ status: 0, problems: [] })
  })

  it('reports the node, its peers, tasks on both sides with their stages, traffic and checks', async () => {
    const s = samples(await (await scrape()).text())
    expect(s.get('p2p_ai_node_state{state="ACTIVE"}')).toBe(1)
    expect(s.get('p2p_ai_node_state{state="STOPPED"}')).toBe(0)
    expect(s.get('p2p_ai_node_ready')).toBe(1)
    expect(s.get('p2p_ai_node_uptime_seconds')).toBeGreaterThan(0)
    expect(s.get('p2p_ai_peers{status="connected"}')).toBe(1)
    expect(s.get('p2p_ai_peer_connections{kind="direct",transport="tcp"}')).toBe(1)
    expect(s.get('p2p_ai_peer_connections{kind="relayed",transport="tcp"}')).toBe(0)
    expect(s.get('p2p_ai_peer_events_total{event="connect"}')).toBe(1)

    expect(s.get('p2p_ai_tasks_total{side="submitted",type="mock",outcome="completed"}')).toBe(3)
    expect(s.get('p2p_ai_tasks_total{side="submitted",type="mock",outcome="failed"}')).toBe(1)
    expect(s.get('p2p_ai_task_failures_total{side="submitted",code="ERR_TASK_FAILED"}')).toBe(1)
    expect(s.get('p2p_ai_tasks_total{side="served",type="mock",outcome="completed"}')).toBe(2)
    for (const stage of ['queue', 'run', 'network', 'total']) {
      expect(s.get(`p2p_ai_task_stage_seconds_count{side="submitted",stage="${stage}",type="mock"}`)).toBe(3)
    }
    for (const stage of ['queue', 'run']) {
      expect(s.get(`p2p_ai_task_stage_seconds_count{side="served",stage="${stage}",type="mock"}`)).toBe(2)
    }
    expect(s.get('p2p_ai_tasks_in_flight')).toBe(0)
    expect(s.get('p2p_ai_engine_concurrency')).toBe(observed.config.engine.concurrency)

    const task = (direction: string) => `{protocol="/p2p-ai/task/1.0.0",direction="${direction}"}`
    // Out: 4 requests, and 2 accepts and 2 results for the tasks served (some may share a write).
    expect(s.get(`p2p_ai_messages_total${task('out')}`)).toBe(8)
    expect(s.get(`p2p_ai_messages_total${task('in')}`)).toBe(2 + 4 + 4)
    expect(s.get(`p2p_ai_message_bytes_total${task('in')}`)).toBeGreaterThan(1000)
    expect(s.get('p2p_ai_signature_checks_total{result="valid"}')).toBeGreaterThanOrEqual(3)
    expect(s.get('p2p_ai_signature_checks_total{result="invalid"}')).toBe(0)
    expect(s.get('p2p_ai_store_size_bytes{store="results"}')).toBeGreaterThan(0)
    for (const alert of [
      'peers_low',
      'memory_high',
      'task_failure_rate_high',
      'event_loop_lag_high',
      'queue_full',
    ]) {
      expect(s.has(`p2p_ai_alert_active{alert="${alert}"}`), alert).toBe(true)
    }

    // libp2p's own metrics and the process's, in the same registry.
    expect(s.get('libp2p_data_transfer_bytes_total{protocol="/p2p-ai/task/1.0.0 sent"}')).toBeGreaterThan(0)
    expect([...s.keys()].some((k) => k.startsWith('libp2p_connection_manager_connections'))).toBe(true)
    expect(s.get('process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(s.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)
  })

  it('renders the same exposition for a snapshot as for a scrape', async () => {
    const text = await metrics.exposition()
    for (const spec of METRIC_LIST) expect(text, spec.name).toContain(`# TYPE ${spec.name} ${spec.type}`)
  })
})

describe('labels', () => {
  it('keeps task types and codes to a bounded set: odd shapes and values past the cap are other', () => {
    const types = new CappedLabel(3)
    expect(['embed', 'ocr', 'embed', 'my-task.v2', 'generate'].map((t) => types.of(t))).toEqual([
      'embed',
      'ocr',
      'embed',
      'my-task.v2',
      'other',
    ])
    expect(types.of('with space')).toBe('other')
    expect(types.of(undefined)).toBe('other')
    expect(MAX_LABEL_VALUES).toBe(64)
  })

  it('names the transport of a connection by its address, the relay hop for a relayed one', () => {
    expect(transportOf('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA')).toBe('tcp')
    expect(transportOf('/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWA')).toBe('websockets')
    expect(transportOf('/ip4/11.8.0.2/udp/4001/quic-v1/p2p/12D3KooWR/p2p-circuit/p2p/12D3KooWB')).toBe('quic')
    expect(transportOf('/ip4/11.8.0.2/tcp/4001/p2p/12D3KooWR/p2p-circuit/p2p/12D3KooWB')).toBe('tcp')
    expect(transportOf('/memory/x')).toBe('other')
  })
})

describe('docs/observability.md', () => {
  it('lists every metric with its type and labels, and no metric the code does not export', async () => {
    const doc = await readFile(new URL('../../../docs/observability.md', import.meta.url), 'utf8')
    const rows = doc.split('\n').filter((l) => l.startsWith('| `p2p_ai_'))
    for (const spec of METRIC_LIST) {
      const row = rows.find((l) => l.startsWith(`| \`${spec.name}\` |`))
      expect(row, spec.name).toBeDefined()
      const cells = row!.split(' | ')
      expect(cells[1], spec.name).toBe(spec.type)
      const labels = spec.labels.length === 0 ? '' : spec.labels.map((l) => `\`${l}\``).join(', ')
      expect(cells[2], spec.name).toBe(labels)
    }
    const names = new Set(METRIC_LIST.map((m) => m.name))
    for (const row of rows) expect(names.has(row.slice(3, row.indexOf('`', 3)))).toBe(true)
  })
})
