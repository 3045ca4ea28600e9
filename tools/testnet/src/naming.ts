import { randomBytes } from 'node:crypto'
import { InvalidTestnetOptionError } from './errors.js'

/** `<prefix>-<pid>-<random>`: the pid lets a later run tell stale namespaces from live ones. */
export function newRunId(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`
}

/** Checks a namespace prefix: short, lowercase, so names stay readable and sweepable. */
export function checkPrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) {
    throw new InvalidTestnetOptionError(
      `prefix must be 1-12 lowercase letters and digits, got ${JSON.stringify(prefix)}`,
    )
  }
  return prefix
}

export function bridgeNamespace(runId: string): string {
  return `${runId}-br`
}

export function hostNamespace(runId: string, index: number): string {
  return `${runId}-h${index}`
}

/** The router of home network `home`: NAT between its LAN bridge and the public segment. */
export function routerNamespace(runId: string, home: number): string {
  return `${runId}-r${home}`
}

/** Host `index` of home network `home`, behind that home's router. */
export function homeHostNamespace(runId: string, home: number, index: number): string {
  return `${runId}-r${home}h${index}`
}

/** The pid that created a namespace of `prefix`, or undefined when the name is not one of ours. */
export function ownerPid(prefix: string, namespace: string): number | undefined {
  if (!namespace.startsWith(`${prefix}-`)) {
    return undefined
  }
  const match = /^(\d+)-[0-9a-f]+-(br|h\d+|r\d+|r\d+h\d+)$/.exec(namespace.slice(prefix.length + 1))
  return match === null ? undefined : Number(match[1])
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
