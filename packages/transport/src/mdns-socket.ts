import { createSocket, type Socket } from 'node:dgram'
import { platform } from 'node:os'
import type { Multiaddr } from '@multiformats/multiaddr'
import { MDNS_IPV4_GROUP, MDNS_RECV_BUFFER_BYTES } from './constants.js'
import { MdnsSocketError } from './errors.js'
import type { MdnsInterface } from './mdns-interfaces.js'

/**
 * A UDP socket for mDNS on exactly one interface. The outgoing multicast interface
 * (IP_MULTICAST_IF) and the group membership are pinned to the interface's address before the
 * socket is handed out; if either fails the socket is closed, so nothing can ever be sent through
 * the OS default route instead. On Linux this works on `lo` without root, without the MULTICAST
 * flag and without a multicast route.
 *
 * @throws {MdnsSocketError}
 */
export async function openMdnsSocket(iface: MdnsInterface, port: number): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true })
  // On Linux, binding the group address keeps unicast datagrams out; other systems need 0.0.0.0.
  const bindAddress = platform() === 'linux' ? MDNS_IPV4_GROUP : '0.0.0.0'
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind({ port, address: bindAddress, exclusive: false }, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    socket.setMulticastInterface(iface.address)
    socket.addMembership(MDNS_IPV4_GROUP, iface.address)
    // RFC 6762 §11: 255, so receivers can tell link-local traffic; multicast loopback lets other
    // nodes on this machine hear us (and us hear ourselves: our own messages are recognised).
    socket.setMulticastTTL(255)
    socket.setMulticastLoopback(true)
  } catch (err) {
    socket.close()
    throw new MdnsSocketError(iface.name, iface.address, err as Error)
  }
  try {
    // Every node on the link answers a query at about the same moment; the default buffer
    // (~200 KB on Linux, ~100 loopback datagrams) overflows in bursts and answers are lost until the
    // next query. The kernel caps this at net.core.rmem_max without complaint.
    socket.setRecvBufferSize(MDNS_RECV_BUFFER_BYTES)
  } catch {
    // A smaller buffer only costs retries.
  }
  return socket
}

/** The IP address of a multiaddr that starts with `/ip4` or `/ip6`. */
export function hostOf(ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  return first !== undefined && (first.name === 'ip4' || first.name === 'ip6') ? first.value : undefined
}
