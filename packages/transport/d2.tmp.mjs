import { createTransport } from '@p2p-ai/transport'

const nodes = []
for (let i = 0; i < 4; i++)
  nodes.push(await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
for (const [i, j] of [
  [0, 1],
  [2, 3],
  [0, 2],
]) {
  const t = performance.now()
  await nodes[i].dial(nodes[j].getMultiaddrs())
  console.log(`dial ${i}->${j}`, Math.round(performance.now() - t))
}
const t = performance.now()
await Promise.all([
  nodes[1].dial(nodes[2].getMultiaddrs()),
  nodes[1].dial(nodes[3].getMultiaddrs()),
  nodes[0].dial(nodes[3].getMultiaddrs()),
])
console.log('3 parallel', Math.round(performance.now() - t))
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
