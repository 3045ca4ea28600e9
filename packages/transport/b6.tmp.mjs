import { createTransport } from '@p2p-ai/transport'

const N = 6
const tag = `_p2pai-b${process.pid}._udp.local`
const nodes = []
for (let i = 0; i < N; i++)
  nodes.push(
    await createTransport({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: { interface: 'loopback', serviceTag: tag },
      start: false,
    }),
  )
const name = new Map(nodes.map((n, i) => [n.peerId.toString(), i]))
const t0 = performance.now()
const log = (...a) => console.log(Math.round(performance.now() - t0), ...a)
nodes.forEach((n, i) => {
  n.services.mdns.addEventListener('peer', (e) => log(`mdns ${i} sees ${name.get(e.detail.id.toString())}`))
  n.addEventListener('peer:connect', (e) => log(`connect ${i}-${name.get(e.detail.toString())}`))
  const cm = n.components.connectionManager
  const orig = cm.openConnection.bind(cm)
  cm.openConnection = async (t, o) => {
    const s = performance.now()
    try {
      const c = await orig(t, o)
      log(`dial ${i} ok ${Math.round(performance.now() - s)}ms`)
      return c
    } catch (e) {
      log(`dial ${i} fail ${e.name} ${Math.round(performance.now() - s)}ms`)
      throw e
    }
  }
})
await Promise.all(nodes.map((n) => n.start()))
log('started')
await new Promise((r) => setTimeout(r, 6000))
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
