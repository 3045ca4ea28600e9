import { createTransport } from '@p2p-ai/transport'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
const role = process.argv[2]
if (role === 'server') {
  const t = await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  await t.handle('/echo/1', (stream) => { stream.addEventListener('message', (e) => { stream.send(e.data) }) })
  console.log(t.getMultiaddrs()[0].toString())
} else {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'server'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const addr = await new Promise((r) => createInterface({ input: child.stdout }).once('line', r))
  const t = await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  const s = await t.dialProtocol(multiaddr(addr), '/echo/1')
  let waiting = []
  s.addEventListener('message', (e) => { const n = e.data.byteLength / 100; for (let i = 0; i < n; i++) waiting.shift()?.() })
  const buf = new Uint8Array(100)
  for (const inflight of [1, 16, 128]) {
    const lat = []; let done = 0
    const end = performance.now() + 3000
    async function worker() { while (performance.now() < end) { const t0 = performance.now(); await new Promise((r) => { waiting.push(r); s.send(buf) }); lat.push(performance.now() - t0); done++ } }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: inflight }, worker))
    lat.sort((a, b) => a - b)
    console.log(inflight, 'ops/s', Math.round(done / ((performance.now() - t0) / 1000)), 'p50', lat[Math.floor(lat.length / 2)].toFixed(3), 'p99', lat[Math.floor(lat.length * 0.99)].toFixed(3))
  }
  child.kill(); process.exit(0)
}
