import { createTransport } from '@p2p-ai/transport'

const N = 61
const nodes = []
for (let i = 0; i < N; i++)
  nodes.push(await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
for (let i = 1; i < 11; i++) await nodes[0].dial(nodes[i].getMultiaddrs())
await new Promise((r) => setTimeout(r, 1000))
const u0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 11; i < N; i++) await nodes[0].dial(nodes[i].getMultiaddrs())
await new Promise((r) => setTimeout(r, 1000))
const u = process.cpuUsage(u0)
console.log(
  'steady: cpu per connection (both ends, incl. identify)',
  ((u.user + u.system) / 1000 / (N - 11)).toFixed(1),
  'ms',
)
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
