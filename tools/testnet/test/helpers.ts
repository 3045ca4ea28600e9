import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { TestHost } from '../src/testnet.js'

const run = promisify(execFile)
const IP = '/usr/sbin/ip'

/** The machine's own network configuration, to prove a testnet leaves it untouched. */
export async function hostNetworkSnapshot(): Promise<string> {
  const parts = await Promise.all([
    run(IP, ['-o', 'link', 'show']),
    run(IP, ['-o', 'addr', 'show']),
    run(IP, ['route', 'show', 'table', 'all']),
  ])
  // Counters and timers change on their own; names, flags, addresses and routes must not.
  return parts.map((p) => p.stdout.replace(/valid_lft \S+ preferred_lft \S+/g, '')).join('\n---\n')
}

export async function namespaces(): Promise<string[]> {
  const { stdout } = await run(IP, ['netns', 'list'])
  return stdout
    .split('\n')
    .map((l) => l.trim().split(' ')[0] ?? '')
    .filter((n) => n !== '')
}

/** A one-shot TCP echo check between two hosts, with plain Node sockets. */
export function tcpServer(host: TestHost, port: number): Promise<() => void> {
  const child = host.spawn(process.execPath, [
    '-e',
    `require('node:net').createServer((s) => s.end('pong')).listen(${port}, '${host.address}', () => console.log('up'))`,
  ])
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(() => child.kill('SIGKILL')))
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
}

export async function tcpReachable(
  from: TestHost,
  to: TestHost,
  port: number,
  timeoutMs = 1_000,
): Promise<boolean> {
  const script = `const s = require('node:net').connect({ host: '${to.address}', port: ${port}, timeout: ${timeoutMs} });
s.on('data', (d) => { process.stdout.write(String(d)); process.exit(0) });
s.on('timeout', () => process.exit(2)); s.on('error', () => process.exit(3))`
  const result = await from.exec(process.execPath, ['-e', script], { timeoutMs: timeoutMs + 5_000 })
  return result.code === 0 && result.stdout === 'pong'
}
