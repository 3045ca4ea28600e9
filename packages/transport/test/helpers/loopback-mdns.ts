import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { platform } from 'node:os'

const GROUP = '224.0.0.251'
const PORT = 5353

let counter = 0
/** A service tag no other test run uses, so parallel runs on one machine never see each other. */
export function uniqueServiceTag(): string {
  counter++
  return `_p2pai-t${process.pid}-${counter}._udp.local`
}

/**
 * A raw mDNS socket on the loopback interface only: joined on 127.0.0.1 and sending through it,
 * so nothing it sends can leave the machine.
 */
export async function loopbackMdnsSocket(): Promise<{
  socket: Socket
  send(datagram: Uint8Array): Promise<void>
  messages: Array<{ datagram: Buffer; rinfo: RemoteInfo }>
  close(): Promise<void>
}> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind({ port: PORT, address: platform() === 'linux' ? GROUP : '0.0.0.0' }, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  socket.setMulticastInterface('127.0.0.1')
  socket.addMembership(GROUP, '127.0.0.1')
  socket.setMulticastLoopback(true)
  const messages: Array<{ datagram: Buffer; rinfo: RemoteInfo }> = []
  socket.on('message', (datagram, rinfo) => messages.push({ datagram, rinfo }))
  return {
    socket,
    messages,
    send: async (datagram) =>
      new Promise<void>((resolve, reject) => {
        socket.send(datagram, PORT, GROUP, (err) => (err == null ? resolve() : reject(err)))
      }),
    close: async () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
