import { createTransport } from '@p2p-ai/transport'

const N = Number(process.argv[2] ?? 100)
const MAX = Number(process.argv[3] ?? 32)
const tag = `_p2pai-b${process.pid}._udp.local`
const tc = performance.now()
const nodes = []
for (let i = 0; i < N; i++)
  nodes.push(
    await createTransport({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: { interface: 'loopback', serviceTag: tag },
      maxConnections: MAX,
      start: false,
    }),
  )
const created = performance.now() - tc
const seen = nodes.map(() => new Set())
let doneDisc = 0,
  tDisc = null
nodes.forEach((n, i) =>
  n.services.mdns.addEventListener('peer', (e) => {
    const s = seen[i]
    const b = s.size
    s.add(e.detail.id.toString())
    if (b < N - 1 && s.size === N - 1) {
      doneDisc++
      if (doneDisc === N) tDisc = performance.now()
    }
  }),
)
const t0 = performance.now()
await Promise.all(nodes.map((n) => n.start()))
const tStarted = performance.now() - t0
while (tDisc === null && performance.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 10))
const conns = () => nodes.map((n) => n.getPeers().length)
let tConn = null
const target = Math.min(MAX, N - 1)
while (performance.now() - t0 < 20000) {
  const c = conns()
  if (c.every((x) => x >= target)) {
    tConn = performance.now() - t0
    break
  }
  await new Promise((r) => setTimeout(r, 20))
}
await new Promise((r) => setTimeout(r, 1000))
const c = conns()
console.log(
  JSON.stringify({
    N,
    MAX,
    createdMs: Math.round(created),
    startMs: Math.round(tStarted),
    allDiscoveredMs: tDisc && Math.round(tDisc - t0),
    discovered: seen.filter((s) => s.size === N - 1).length,
    allConnectedMs: tConn && Math.round(tConn),
    conns: { min: Math.min(...c), max: Math.max(...c), mean: c.reduce((a, b) => a + b, 0) / N },
    answers: nodes.reduce((a, n) => a + n.services.mdns.stats.answersSent, 0),
    queries: nodes.reduce((a, n) => a + n.services.mdns.stats.queriesSent, 0),
    dials: nodes.reduce((a, n) => a + n.services.pool.stats.dialsStarted, 0),
    failed: nodes.reduce((a, n) => a + n.services.pool.stats.dialsFailed, 0),
    trimmed: nodes.reduce((a, n) => a + n.services.pool.stats.trimmed, 0),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
  }),
)
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
