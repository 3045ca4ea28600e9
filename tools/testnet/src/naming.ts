import { randomBytes } from 'node:crypto'

/** `<prefix>-<pid>-<random>`: the pid lets a later run tell stale namespaces from live ones. */
export function newRunId(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`
}

export function bridgeNamespace(runId: string): string {
  return `${runId}-br`
}

export function hostNamespace(runId: string, index: number): string {
  return `${runId}-h${index}`
}

/** The pid that created a namespace of `prefix`, or undefined when the name is not one of ours. */
export function ownerPid(prefix: string, namespace: string): number | undefined {
  if (!namespace.startsWith(`${prefix}-`)) {
    return undefined
  }
  const match = /^(\d+)-[0-9a-f]+-(br|h\d+)$/.exec(namespace.slice(prefix.length + 1))
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
