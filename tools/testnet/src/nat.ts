import { spawn } from 'node:child_process'
import { access, constants as fs } from 'node:fs/promises'
import {
  IP_BIN,
  IP_TIMEOUT_MS,
  IPTABLES_RESTORE_BIN,
  LAN_INTERFACE,
  SYSCTL_BIN,
  WAN_INTERFACE,
} from './constants.js'
import { TestnetCommandError, TestnetUnavailableError } from './errors.js'

/**
 * How a home router translates addresses:
 *
 * - `'cone'`: MASQUERADE, which keeps a connection's source port whenever it is free, so one
 *   internal address and port map to one external port whatever the destination
 *   (endpoint-independent mapping, what most home routers do). Hole punching can work.
 * - `'symmetric'`: MASQUERADE `--random-fully`: every new destination gets a new random external
 *   port (endpoint-dependent mapping, as on many carrier-grade and corporate NATs). Hole punching
 *   cannot work; only relays help.
 *
 * Both filter inbound traffic the same way: only packets of connections a home host opened
 * (conntrack ESTABLISHED/RELATED) get in; anything unsolicited is dropped silently, as a home
 * router does, not refused.
 */
export type NatKind = 'cone' | 'symmetric'

export const NAT_KINDS: readonly NatKind[] = Object.freeze(['cone', 'symmetric'])

/**
 * The router's rule set, in iptables-restore format (replaces the namespace's filter and nat
 * tables). With `forwards`, connections the router itself forwards to the LAN (DNAT: its UPnP
 * server's port forwards) get in too.
 */
export function natRules(kind: NatKind, wan = WAN_INTERFACE, lan = LAN_INTERFACE, forwards = false): string {
  const masquerade = `-A POSTROUTING -o ${wan} -j MASQUERADE${kind === 'symmetric' ? ' --random-fully' : ''}`
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    masquerade,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    `-A INPUT -i ${wan} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A INPUT -i ${wan} -j DROP`,
    `-A FORWARD -i ${lan} -o ${wan} -j ACCEPT`,
    `-A FORWARD -i ${wan} -o ${lan} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    ...(forwards ? [`-A FORWARD -i ${wan} -o ${lan} -m conntrack --ctstate DNAT -j ACCEPT`] : []),
    'COMMIT',
    '',
  ].join('\n')
}

/**
 * Runs `command` inside `namespace` (never in the machine's own namespace), feeding `input` on
 * stdin, and resolves with stdout.
 */
export async function execIn(
  namespace: string,
  command: string,
  args: string[],
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP_BIN, ['netns', 'exec', namespace, command, ...args], {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), IP_TIMEOUT_MS)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new TestnetCommandError(['netns', 'exec', namespace, command, ...args], err.message))
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code === 0) {
        resolve(stdout)
      } else {
        reject(
          new TestnetCommandError(['netns', 'exec', namespace, command, ...args], stderr || `exit ${code}`),
        )
      }
    })
    if (input !== undefined) {
      // A command that fails before reading its input closes the pipe; its exit code says why.
      child.stdin?.on('error', () => {})
      child.stdin?.end(input)
    }
  })
}

/** Turns the router namespace into a NAT router of `kind`: forwarding on, the rule set loaded. */
export async function configureRouter(namespace: string, kind: NatKind, forwards = false): Promise<void> {
  await execIn(namespace, SYSCTL_BIN, ['-q', '-w', 'net.ipv4.ip_forward=1'])
  await execIn(namespace, IPTABLES_RESTORE_BIN, [], natRules(kind, WAN_INTERFACE, LAN_INTERFACE, forwards))
}

/**
 * Throws a clear error when the routers cannot be built: iptables is not installed.
 *
 * @throws {TestnetUnavailableError}
 */
export async function assertNatAvailable(): Promise<void> {
  for (const bin of [IPTABLES_RESTORE_BIN, SYSCTL_BIN]) {
    try {
      await access(bin, fs.X_OK)
    } catch {
      throw new TestnetUnavailableError(
        `the simulated internet needs ${bin} (Debian: apt-get install -y iptables procps; .ci/run installs it)`,
      )
    }
  }
}
