/**
 * Where the harness runs a node and its driver: on this machine's loopback interface, or on a test
 * host (a network namespace of `@p2p-ai/testnet`), whose link can be cut. A node's control API
 * listens on 127.0.0.1 of its place, so its driver runs in the same place.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import type { TestHost } from '@p2p-ai/testnet'

export interface Place {
  /** `loopback`, or the test host's namespace. */
  readonly name: string
  /** The address a node listens on there. */
  readonly address: string
  /** Starts a process there, with pipes for stdin, stdout and stderr. */
  spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess
  /** Takes the place's network link down (test hosts only). */
  readonly cut?: () => Promise<void>
  readonly restore?: () => Promise<void>
}

export function loopback(): Place {
  return {
    name: 'loopback',
    address: '127.0.0.1',
    spawn: (command, args, env) => spawn(command, [...args], { stdio: 'pipe', env }),
  }
}

/** A test host: processes run in its namespace, and are killed when the testnet is destroyed. */
export function onHost(host: TestHost): Place {
  return {
    name: host.namespace,
    address: host.address,
    spawn: (command, args, env) => host.spawn(command, [...args], { env }),
    cut: () => host.cut(),
    restore: () => host.restore(),
  }
}

/** A TCP port free on 127.0.0.1 now (the node binds it moments later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
