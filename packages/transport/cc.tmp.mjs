import { createTransport } from '@p2p-ai/transport'

const nodes = []
for (let i = 0; i < 21; i++)
  nodes.push(await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
const u0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 1; i < 21; i++) await nodes[0].dial(nodes[i].getMultiaddrs())
const u = process.cpuUsage(u0)
const wall = performance.now() - t0
console.log(
  '20 sequential dials: wall',
  Math.round(wall),
  'ms, cpu',
  Math.round((u.user + u.system) / 1000),
  'ms →',
  Math.round((u.user + u.system) / 1000 / 20),
  'ms cpu per connection (both ends)',
)
await new Promise((r) => setTimeout(r, 1500))
const u1 = process.cpuUsage()
await new Promise((r) => setTimeout(r, 2000))
const u2 = process.cpuUsage(u1)
console.log('idle cpu over 2s with 20 connections', Math.round((u2.user + u2.system) / 1000), 'ms')
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
