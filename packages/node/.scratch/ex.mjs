import { mockBackend, taskEngine } from '@p2p-ai/engine'
import { generateIdentity } from '@p2p-ai/identity'
import { createTransport } from '@p2p-ai/transport'
import { pino } from 'pino'
import { taskExchange } from '../dist/exchange/index.js'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const role = process.argv[2]
async function make(backends) {
  const identity = generateIdentity()
  const transport = await createTransport({ identity, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, start: false })
  const engine = taskEngine({ backends, concurrency: 64, maxQueueLength: 100000, workers: false, builtins: false })
  const exchange = taskExchange({ peerId: identity.peerId, signer: identity, transport, engine, log: pino({ level: 'silent' }) }, { handleAnnounce: true })
  await transport.start(); await exchange.start()
  return { identity, transport, engine, exchange }
}
if (role === 'server') {
  const n = await make([mockBackend({ worker: false })])
  console.log(JSON.stringify({ addr: n.transport.getMultiaddrs()[0].toString(), peerId: n.identity.peerId }))
  let last = process.cpuUsage(); let lastAnswered = 0
  createInterface({ input: process.stdin }).on('line', () => {
    const u = process.cpuUsage(last); last = process.cpuUsage()
    const a = n.exchange.providerStats().answered
    console.error('server cpu us/task', ((u.user + u.system) / (a - lastAnswered)).toFixed(1), 'tasks', a - lastAnswered)
    lastAnswered = a
  })
  process.on('SIGINT', () => process.exit(0))
} else {
  const child = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), new URL(import.meta.url).pathname, 'server'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise((r) => createInterface({ input: child.stdout }).once('line', r))
  const { addr, peerId } = JSON.parse(line)
  const n = await make([])
  await n.transport.dial((await import('@multiformats/multiaddr')).multiaddr(addr))
  while (!n.exchange.peers().some((p) => p.capabilities)) await new Promise((r) => setTimeout(r, 20))
  for (const inflight of (process.env.INFLIGHT ?? '1,16,128').split(',').map(Number)) {
    const lat = []
    let done = 0
    const end = performance.now() + Number(process.env.SECS ?? 3) * 1000
    async function worker() {
      while (performance.now() < end) {
        const t0 = performance.now()
        const r = await n.exchange.submit({ type: 'mock', input: { text: 'hello world' } }, { target: peerId }).result()
        if (r.status !== 'COMPLETED') throw new Error(JSON.stringify(r))
        lat.push(performance.now() - t0); done++
      }
    }
    const t0 = performance.now()
    child.stdin.write('mark\n')
    const cpu0 = process.cpuUsage()
    await Promise.all(Array.from({ length: inflight }, worker))
    const secs = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    child.stdin.write('mark\n')
    await new Promise((r) => setTimeout(r, 200))
    console.log('client cpu us/task', ((cpu.user + cpu.system) / done).toFixed(1))
    lat.sort((a, b) => a - b)
    console.log(inflight, 'tasks/s', Math.round(done / secs), 'p50', lat[Math.floor(lat.length / 2)].toFixed(3), 'p99', lat[Math.floor(lat.length * 0.99)].toFixed(3))
  }
  child.kill('SIGINT')
  await new Promise((r) => setTimeout(r, 1500))
  process.exit(0)
}
