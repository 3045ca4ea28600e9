import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { str } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { BIN_NAME, ENV } from '../constants.js'
import { DemoNotRunningError, FileError } from '../errors.js'
import type { Io } from '../io.js'
import { defaultDataDir, expandPath } from '../paths.js'

/** One demo node, as `demo start` recorded it. */
export interface DemoNode {
  /** `node-1`, `node-2`... */
  readonly name: string
  readonly dataDir: string
  readonly pid: number
  readonly peerId: string
  readonly address: string
}

/** `demo.json` in the demo directory. */
export interface DemoState {
  readonly startedAt: number
  /** The mDNS service tag of this demo: only its own nodes find each other. */
  readonly serviceTag: string
  readonly nodes: readonly DemoNode[]
}

export const DEMO_FILE = 'demo.json'

/** The demo directory: `--demo-dir`, else P2P_AI_DEMO_DIR, else `<default data directory>/demo`. */
export function demoDir(parsed: Parsed, io: Io): string {
  const flag = str(parsed.options, 'demo-dir') ?? io.env[ENV.DEMO_DIR]
  if (flag !== undefined && flag !== '') return expandPath(flag, io.cwd, io.env)
  return join(defaultDataDir(io.env), 'demo')
}

export async function readDemo(dir: string): Promise<DemoState | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, DEMO_FILE), 'utf8')
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text) as DemoState
  } catch {
    throw new FileError(
      `${join(dir, DEMO_FILE)} is damaged`,
      `remove it, then \`${BIN_NAME} demo start\` again`,
    )
  }
}

/** The demo of `dir`, or a usage error saying how to start one. */
export async function requireDemo(dir: string): Promise<DemoState> {
  const state = await readDemo(dir)
  if (state === undefined) throw new DemoNotRunningError(dir)
  return state
}

export async function writeDemo(dir: string, state: DemoState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, DEMO_FILE)
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
  await rename(`${file}.tmp`, file)
}

export async function removeDemo(dir: string): Promise<void> {
  await rm(join(dir, DEMO_FILE), { force: true })
}
