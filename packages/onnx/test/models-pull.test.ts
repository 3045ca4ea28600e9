import { mkdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { type PullProgress, readManifest } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Hub, listFiles, startHub } from '../../engine/test/fixtures/hub.js'
import { onnxBackend } from '../src/backend/backend.js'
import type { EmbedOutput } from '../src/embed/embed.js'
import { onnxModelRegistry } from '../src/models/format.js'
import { pullOnnxModel } from '../src/models/pull.js'
import { removeDir, runTask, tempDir, writeBert } from './fixtures/models.js'

describe('pullOnnxModel', () => {
  let root: string
  let hub: Hub
  let stHub: string
  let flat: string

  beforeAll(async () => {
    root = await tempDir()
    // The sentence-transformers layout on the Hub: the graph under onnx/, the rest at the root.
    stHub = (await writeBert(join(root, 'hub'), 'st', { layers: 1 })).dir
    await mkdir(join(stHub, 'onnx'))
    await rename(join(stHub, 'model.onnx'), join(stHub, 'onnx', 'model.onnx'))
    flat = (await writeBert(join(root, 'hub'), 'flat', { layers: 0 })).dir
    hub = await startHub({
      'sentence-transformers/tiny-st': { dir: stHub },
      'acme/flat': { dir: flat },
    })
  })
  afterAll(async () => {
    await hub?.close()
    await removeDir(root)
  })

  it('downloads a sentence-transformers export (onnx/model.onnx, tokenizer, configuration), registers it, and embed works', async () => {
    const backend = onnxBackend({ worker: false, builtinModels: false })
    const dir = join(root, 'models', 'tiny-st')
    const progress: PullProgress[] = []
    const pulled = await pullOnnxModel({
      repo: 'sentence-transformers/tiny-st',
      endpoint: hub.endpoint,
      dir,
      registry: backend.registry,
      onProgress: (p) => progress.push(p),
    })
    expect(pulled.name).toBe('tiny-st')
    expect(await listFiles(dir)).toEqual([
      '1_Pooling/config.json',
      'onnx/model.onnx',
      'p2p-ai-model.json',
      'sentence_bert_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
    const manifest = await readManifest(dir)
    expect(manifest).toMatchObject({
      name: 'tiny-st',
      model: 'onnx/model.onnx',
      format: 'onnx',
      source: { endpoint: hub.endpoint, repo: 'sentence-transformers/tiny-st', revision: 'main' },
    })
    // Only the graph and tokenizer.json are required; the repository's configuration came along.
    expect(progress.map((p) => p.file)).toContain('sentence_bert_config.json')

    const out = (await runTask(backend, 'embed', {
      model: 'tiny-st',
      texts: ['hello world', 'lazy dog'],
    })) as EmbedOutput
    expect(out.embeddings).toHaveLength(2)
    expect(backend.models()).toEqual([
      expect.objectContaining({ name: 'tiny-st', sha256: pulled.entry.sha256 }),
    ])
    await backend.unload()

    // Another process finds it by scanning the models directory.
    const scanned = onnxModelRegistry()
    expect((await scanned.scan(join(root, 'models'))).registered).toEqual(['tiny-st'])
  })

  it('takes model.onnx at the root, a revision, a name and an explicit file list', async () => {
    const dir = join(root, 'models', 'explicit')
    const pulled = await pullOnnxModel({
      repo: 'acme/flat',
      revision: 'v1.0',
      name: 'flat-v1',
      files: ['model.onnx', 'tokenizer.json'],
      endpoint: `${hub.endpoint}/`,
      dir,
      token: 'secret-token',
    })
    expect(await listFiles(dir)).toEqual(['model.onnx', 'p2p-ai-model.json', 'tokenizer.json'])
    expect(pulled.manifest.source?.revision).toBe('v1.0')
    const first = hub.requests.find((r) => r.url === '/acme/flat/resolve/v1.0/model.onnx')
    expect(first?.headers.authorization).toBe('Bearer secret-token')
    // Redirects stay on the same origin here, so the token follows them.
    expect(hub.requests.find((r) => r.url === '/cdn/acme/flat/model.onnx')?.headers.authorization).toBe(
      'Bearer secret-token',
    )
  })

  it('refuses an explicit file list without an .onnx model before any request', async () => {
    const before = hub.requests.length
    await expect(
      pullOnnxModel({
        repo: 'acme/flat',
        files: ['tokenizer.json'],
        endpoint: hub.endpoint,
        dir: join(root, 'x'),
      }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_MODEL_ENTRY', message: expect.stringContaining('.onnx') })
    expect(hub.requests.length).toBe(before)
  })
})
