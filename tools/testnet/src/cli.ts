#!/usr/bin/env node
/**
 * p2p-testnet up [--hosts N] [--subnet n]   build a testnet, print it as JSON, keep it until Ctrl-C
 * p2p-testnet sweep [--prefix p]            delete namespaces left by dead runs
 * p2p-testnet list [--prefix p]             list testnet namespaces and whether their run is alive
 */
import { parseArgs } from 'node:util'
import { DEFAULT_PREFIX } from './constants.js'
import { assertTestnetAvailable, listNamespaces } from './ip.js'
import { isAlive, ownerPid } from './naming.js'
import { sweepStaleNamespaces } from './sweep.js'
import { createTestnet } from './testnet.js'

const USAGE = 'usage: p2p-testnet up [--hosts N] [--subnet n] | sweep [--prefix p] | list [--prefix p]'

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      hosts: { type: 'string' },
      subnet: { type: 'string' },
      prefix: { type: 'string', default: DEFAULT_PREFIX },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command] = positionals
  if (values.help === true || command === undefined) {
    console.log(USAGE)
    return command === undefined && values.help !== true ? 2 : 0
  }
  await assertTestnetAvailable()
  switch (command) {
    case 'up': {
      const net = await createTestnet({
        hosts: values.hosts === undefined ? 2 : Number(values.hosts),
        ...(values.subnet === undefined ? {} : { subnet: Number(values.subnet) }),
        prefix: values.prefix,
      })
      const description = {
        runId: net.runId,
        subnet: net.subnet,
        bridgeNamespace: net.bridgeNamespace,
        hosts: net.hosts.map((h) => ({ namespace: h.namespace, address: h.address, interface: h.interface })),
        hint: `ip netns exec ${net.hosts[0]?.namespace} <command>; Ctrl-C tears everything down`,
      }
      console.log(JSON.stringify(description, null, 2))
      // Signal listeners alone do not keep Node running: hold the loop open until one arrives.
      const keepAlive = setInterval(() => {}, 60_000)
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve())
        process.once('SIGTERM', () => resolve())
      })
      clearInterval(keepAlive)
      await net.destroy()
      return 0
    }
    case 'sweep':
      console.log(JSON.stringify({ swept: await sweepStaleNamespaces(values.prefix) }))
      return 0
    case 'list': {
      const rows = (await listNamespaces())
        .map((namespace) => ({ namespace, pid: ownerPid(values.prefix, namespace) }))
        .filter((row): row is { namespace: string; pid: number } => row.pid !== undefined)
        .map((row) => ({ ...row, alive: isAlive(row.pid) }))
      console.log(JSON.stringify(rows, null, 2))
      return 0
    }
    default:
      console.error(USAGE)
      return 2
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string }
    console.error(`p2p-testnet: ${e.code ?? 'ERROR'}: ${e.message ?? String(err)}`)
    process.exitCode = 1
  },
)
