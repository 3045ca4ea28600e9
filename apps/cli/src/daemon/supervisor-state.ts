/**
 * `supervisor.json` in the data directory: what the watchdog of a node run in the background is
 * doing, for `node stop` (which stops it too) and `node status` (which says why no node answers
 * while it waits to restart one, or after it gave up). Written whole (aside, then renamed).
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SUPERVISOR_FILE } from '../constants.js'

export interface SupervisorState {
  /** The watchdog's pid. */
  readonly pid: number
  readonly startedAt: number
  /** `running`: the node runs; `waiting`: it crashed and is restarted at `restartAt`; `gave-up`. */
  readonly state: 'starting' | 'running' | 'waiting' | 'gave-up'
  /** The node's pid while it runs. */
  readonly nodePid?: number
  /** Restarts after crashes since the watchdog started. */
  readonly restarts: number
  /** How the node last ended: `exit code 1`, `SIGKILL`. */
  readonly lastExit?: string
  /** While `waiting`: `Date.now()` of the next start. */
  readonly restartAt?: number
  /** Once `gave-up`: why, and when. */
  readonly gaveUp?: { readonly at: number; readonly reason: string }
}

export const supervisorFile = (dataDir: string): string => join(dataDir, SUPERVISOR_FILE)

export async function writeSupervisorState(dataDir: string, state: SupervisorState): Promise<void> {
  const file = supervisorFile(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  await rename(tmp, file)
}

/** The watchdog's state, if the file is there and well-formed. */
export async function readSupervisorState(dataDir: string): Promise<SupervisorState | undefined> {
  try {
    const state = JSON.parse(await readFile(supervisorFile(dataDir), 'utf8')) as Partial<SupervisorState>
    return typeof state.pid === 'number' && typeof state.state === 'string'
      ? (state as SupervisorState)
      : undefined
  } catch {
    return undefined
  }
}

export async function removeSupervisorState(dataDir: string): Promise<void> {
  await unlink(supervisorFile(dataDir)).catch(() => {})
}

/** What `node status` adds when no node answers but a watchdog left word: waiting, or gave up. */
export function describeSupervisor(
  state: SupervisorState | undefined,
  alive: boolean,
  now = Date.now(),
): string {
  if (state === undefined) return ''
  if (state.state === 'gave-up' && state.gaveUp !== undefined) {
    return ` (its watchdog gave up at ${new Date(state.gaveUp.at).toISOString()}: ${state.gaveUp.reason}; see node.log)`
  }
  if (alive && state.state === 'waiting' && state.restartAt !== undefined) {
    const inMs = Math.max(0, state.restartAt - now)
    return ` (it crashed${state.lastExit === undefined ? '' : ` with ${state.lastExit}`}; its watchdog restarts it in ${Math.ceil(inMs / 1000)} s)`
  }
  return ''
}
