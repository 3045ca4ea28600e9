/** One `p2p-ai-agents node start` process on 127.0.0.1, for tests that drive a single live node. */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readControlInfo } from '@p2p-ai/cli'
import { loadOrCreateIdentity } from '@p2p-ai/identity'
import { cleanEnv, roleEnv } from '../src/environment.js'
import { ChaosNode } from '../src/node-process.js'
import { freePort, loopback } from '../src/place.js'

export interface LiveNode {
  readonly node: ChaosNode
  /** `http://127.0.0.1:<port>` of its control API. */
  readonly url: string
  readonly port: number
  readonly token: string
  readonly logFile: string
}

/** `env`: settings of its own (`P2P_AI_*`), over the chaos defaults. */
export async function liveNode(dir: string, env: NodeJS.ProcessEnv = {}): Promise<LiveNode> {
  const dataDir = join(dir, 'node')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const { identity } = await loadOrCreateIdentity(join(dataDir, 'identity.json'))
  const logFile = join(dir, 'node.log')
  const node = new ChaosNode({
    name: 'node',
    role: 'requester',
    place: loopback(),
    dataDir,
    port: await freePort(),
    peerId: identity.peerId,
    env: { ...cleanEnv(process.env, dir), ...roleEnv('requester', 3_000), ...env },
    logFile,
  })
  await node.start([])
  const info = await readControlInfo(dataDir)
  if (info === undefined) throw new Error('the node wrote no control.json')
  const token = (await readFile(join(dataDir, 'control.token'), 'utf8')).trim()
  return { node, url: info.url, port: Number(new URL(info.url).port), token, logFile }
}

/** Lines the node logged at error level or worse (pino levels 50, 60): a bug, in a fuzzed node. */
export async function errorLines(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8')
  return text.split('\n').filter((line) => /"level":(50|60)\b/.test(line))
}
