import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sha256File } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, tempDir, writeArithmetic } from './fixtures/models.js'

const CHILD = fileURLToPath(new URL('./fixtures/light-start.mjs', import.meta.url))

interface Report {
  readonly atStart: {
    readonly onnxruntime: boolean
    readonly sharp: boolean
    readonly threads: number
    readonly models: ReadonlyArray<readonly [string, string]>
  }
  readonly afterTask: { readonly onnxruntime: boolean; readonly sharp: boolean; readonly threads: number }
}

describe('a node with the ONNX backend starts light', () => {
  let root: string
  let model: string
  let hashes: string

  beforeAll(async () => {
    root = await tempDir()
    model = await writeArithmetic(root)
    hashes = join(root, 'model-hashes.json')
  })
  afterAll(() => removeDir(root))

  const start = async (): Promise<Report> => {
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD, hashes, model])
    return JSON.parse(stdout) as Report
  }

  it('lists its models with their sha256s before any task, without ONNX Runtime, sharp or a worker', async () => {
    const { atStart, afterTask } = await start()
    expect(atStart).toMatchObject({ onnxruntime: false, sharp: false, threads: 0 })
    expect(Object.fromEntries(atStart.models)).toMatchObject({
      arith: await sha256File(model),
      'ppocr-v4-rec': expect.stringMatching(/^[0-9a-f]{64}$/),
      'ppocr-v4-det': expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    // The first task starts a worker; a tokenize task needs no ONNX Runtime even then.
    expect(afterTask).toEqual({ onnxruntime: false, sharp: false, threads: 1 })
  })

  it('hashes each model once: a restart takes the sha256s from the hash cache file', async () => {
    await start()
    // Mark what the file remembers for one model: a restart that hashed it again could not report it.
    const saved = JSON.parse(await readFile(hashes, 'utf8')) as { files: Record<string, { sha256: string }> }
    expect(Object.keys(saved.files)).toHaveLength(3)
    saved.files[model]!.sha256 = 'f'.repeat(64)
    await writeFile(hashes, JSON.stringify(saved))
    const { atStart } = await start()
    expect(Object.fromEntries(atStart.models)).toMatchObject({ arith: 'f'.repeat(64) })
  })
})
