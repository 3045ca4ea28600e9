import { DEFAULT_PREFIX } from './constants.js'
import { ip, listNamespaces, namespacePids } from './ip.js'
import { isAlive, ownerPid } from './naming.js'

/**
 * Deletes the namespaces of `prefix` whose creating process is gone (a run that was SIGKILLed, or a
 * crashed CI job), killing whatever still runs inside them. Namespaces of live runs, including
 * parallel ones, are left alone.
 *
 * @returns the namespaces deleted
 */
export async function sweepStaleNamespaces(prefix = DEFAULT_PREFIX): Promise<string[]> {
  const stale = (await listNamespaces()).filter((name) => {
    const pid = ownerPid(prefix, name)
    return pid !== undefined && pid !== process.pid && !isAlive(pid)
  })
  for (const name of stale) {
    for (const pid of await namespacePids(name).catch(() => [])) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    await ip(['netns', 'del', name]).catch(() => {})
  }
  return stale
}
