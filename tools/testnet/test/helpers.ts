import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestHost } from '../src/host.js'

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

/** iptables rules of the machine's own namespace (read only), to prove a run leaves them alone. */
export async function hostFirewallSnapshot(): Promise<string> {
  const { stdout } = await run('/usr/sbin/iptables-save')
  // iptables-save stamps its output with the time and counts packets; neither is a rule.
  return stdout
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]/g, ''))
    .join('\n')
}

const SOCKETS = fileURLToPath(new URL('./fixtures/sockets.mjs', import.meta.url))

/** Starts a long-running socket probe in a host and resolves once it printed its first line. */
export async function startProbe(
  host: TestHost,
  args: string[],
): Promise<{ lines: string[]; stop: () => void }> {
  const child = host.spawn(process.execPath, [SOCKETS, ...args])
  const lines: string[] = []
  let buffer = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const parts = buffer.split('\n')
      buffer = parts.pop() ?? ''
      lines.push(...parts)
      resolve()
    })
    child.once('exit', (code) => reject(new Error(`probe ${args.join(' ')} exited with ${code}`)))
  })
  return { lines, stop: () => child.kill('SIGKILL') }
}

/** Runs a socket probe to completion and parses the last line it printed. */
export async function probe(host: TestHost, args: string[], timeoutMs = 10_000): Promise<unknown> {
  const result = await host.exec(process.execPath, [SOCKETS, ...args], { timeoutMs })
  const last = result.stdout.trim().split('\n').at(-1) ?? ''
  if (result.code !== 0 || last === '') {
    throw new Error(`probe ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  }
  return JSON.parse(last) as unknown
}
