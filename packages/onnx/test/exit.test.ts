// Leaving a process while its ONNX worker is inside ONNX Runtime: terminating a thread in the middle
// of a native call aborts the whole process ("terminate called after throwing an instance of
// 'Napi::Error'", exit 134), so the engine waits for the call to return first (see `nativeCall`).
// Without that, both cases below aborted in every try: process.exit() (which terminates every
// worker) while a session is created, and a stop on SIGINT while the worker runs and releases its
// session. Each case runs in child processes, several times.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { hashCache } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeSyntheticBertModel } from '../src/graph/synthetic.js'
import { removeDir, tempDir } from './fixtures/models.js'

const CHILD = fileURLToPath(new URL('./fixtures/exit-in-inference.mjs', import.meta.url))
const TRIES = 4

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

describe('leaving a process while its ONNX worker is inside ONNX Runtime', () => {
  let root: string
  let model: string
  let hashes: string

  beforeAll(async () => {
    root = await tempDir()
    model = join(root, 'big')
    // Big enough that creating its session and each inference take a while (MiniLM's width).
    await writeSyntheticBertModel(model, {
      hidden: 384,
      heads: 12,
      layers: 4,
      intermediate: 1536,
      maxSeqLength: 128,
    })
    hashes = join(root, 'hashes.json')
    await hashCache({ file: hashes }).hash(join(model, 'model.onnx'))
  })
  afterAll(() => removeDir(root))

  function child(mode: string): Promise<Exit> {
    const proc = spawn(process.execPath, [CHILD, model, hashes, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line === 'running') proc.kill('SIGINT')
    })
    return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, stderr })))
  }

  async function tries(mode: string): Promise<Exit[]> {
    const exits: Exit[] = []
    // Two at a time: the machine has two cores, and each child's inference uses them.
    for (let i = 0; i < TRIES; i += 2) exits.push(...(await Promise.all([child(mode), child(mode)])))
    return exits
  }

  const clean = { code: 0, signal: null, stderr: '' }

  it('process.exit() while the session is created exits cleanly, every time', async () => {
    expect(await tries('exit-in-create')).toEqual(Array(TRIES).fill(clean))
  }, 60_000)

  it('SIGINT handled by stopping the engine (as a node does on Ctrl-C) exits cleanly, every time', async () => {
    expect(await tries('sigint')).toEqual(Array(TRIES).fill(clean))
  }, 60_000)
})
