import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import type { LookupFunction } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256File } from '../src/models/hash.js'
import { readManifest } from '../src/models/manifest.js'
import { type PullProgress, pullModel } from '../src/models/pull.js'
import { modelRegistry } from '../src/models/registry.js'
import { onnxBackend } from '../src/onnx/backend.js'
import type { EmbedOutput } from '../src/tasks/embed.js'
import { closedPort, type Hub, startHub } from './fixtures/onnx/hub.js'
import { removeDir, runTask, tempDir, writeBert } from './fixtures/onnx/models.js'

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

describe('pullModel', () => {
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
      'acme/liar': { dir: flat, lieAboutSha: 'a'.repeat(64) },
      'acme/stall': { dir: flat, stall: true },
      'acme/truncated': { dir: flat, truncate: true },
      'acme/down': { dir: flat, status: 503 },
      'acme/private': { dir: flat, status: 401 },
    })
  })
  afterAll(async () => {
    await hub?.close()
    await removeDir(root)
  })

  it('downloads a sentence-transformers export, records sha256s, registers it, and embed works', async () => {
    const backend = onnxBackend({ worker: false, builtinModels: false })
    const dir = join(root, 'models', 'tiny-st')
    const progress: PullProgress[] = []
    const pulled = await pullModel({
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
      source: { endpoint: hub.endpoint, repo: 'sentence-transformers/tiny-st', revision: 'main' },
    })
    expect(manifest?.files['onnx/model.onnx']?.sha256).toBe(
      await sha256File(join(stHub, 'onnx', 'model.onnx')),
    )
    const last = progress.filter((p) => p.file === 'onnx/model.onnx').at(-1)
    expect(last?.receivedBytes).toBe(last?.totalBytes)

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
    const scanned = modelRegistry()
    expect((await scanned.scan(join(root, 'models'))).registered).toEqual(['tiny-st'])
  })

  it('takes model.onnx at the root, a revision, a name and an explicit file list', async () => {
    const dir = join(root, 'models', 'explicit')
    const pulled = await pullModel({
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

  async function failure(options: Partial<Parameters<typeof pullModel>[0]>, dirName: string) {
    const dir = join(root, 'failures', dirName)
    const err = await pullModel({ repo: 'acme/flat', endpoint: hub.endpoint, dir, ...options }).catch(
      (e) => e,
    )
    return { err, dir }
  }

  it('fails with reason connection-refused when nothing listens', async () => {
    const { err } = await failure({ endpoint: `http://127.0.0.1:${await closedPort()}` }, 'refused')
    expect(err).toMatchObject({
      code: 'ERR_MODEL_DOWNLOAD_FAILED',
      name: 'ModelDownloadFailedError',
      reason: 'connection-refused',
      message: expect.stringContaining('ECONNREFUSED'),
    })
  })

  it('fails with reason dns when the host does not resolve (offline)', async () => {
    // The lookup answers like a resolver with no network: nothing leaves the machine.
    const offline: LookupFunction = (hostname, _options, callback) =>
      process.nextTick(() =>
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 4),
      )
    const { err } = await failure({ endpoint: 'http://hub.invalid', lookup: offline }, 'dns')
    expect(err).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD_FAILED', reason: 'dns' })
    expect(err.message).toContain('did not resolve')
  })

  it('fails with reason http-status and the status for server errors, auth errors and missing files', async () => {
    expect((await failure({ repo: 'acme/down' }, 'down')).err).toMatchObject({
      reason: 'http-status',
      status: 503,
    })
    expect((await failure({ repo: 'acme/private' }, 'private')).err).toMatchObject({ status: 401 })
    const missing = await failure({ files: ['model.onnx', 'vocab.txt'] }, 'missing')
    expect(missing.err).toMatchObject({
      reason: 'http-status',
      status: 404,
      url: expect.stringContaining('vocab.txt'),
    })
    // Incomplete pulls leave no manifest, so no registry picks the directory up.
    expect(await readManifest(missing.dir)).toBeUndefined()
  })

  it('checks downloads against the sha256 the server announces', async () => {
    const { err, dir } = await failure({ repo: 'acme/liar' }, 'liar')
    expect(err).toMatchObject({ reason: 'integrity', message: expect.stringContaining('a'.repeat(64)) })
    expect(await listFiles(dir).catch(() => [])).toEqual([])
  })

  it('fails a stalled download with reason timeout and a cut one with reason network', async () => {
    expect((await failure({ repo: 'acme/stall', stallTimeoutMs: 1000 }, 'stall')).err).toMatchObject({
      reason: 'timeout',
    })
    // A client that missed the close would report `timeout` after 5 s rather than hang the test.
    const cut = await failure({ repo: 'acme/truncated', stallTimeoutMs: 5000 }, 'cut')
    expect(cut.err).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD_FAILED', reason: 'network' })
    expect(await listFiles(cut.dir).catch(() => [])).toEqual([])
  })

  it('stops with the signal reason when aborted and leaves no partial file', async () => {
    const controller = new AbortController()
    const reason = new Error('user cancelled')
    const pending = pullModel({
      repo: 'acme/stall',
      endpoint: hub.endpoint,
      dir: join(root, 'failures', 'abort'),
      stallTimeoutMs: 10_000,
      onProgress: () => controller.abort(reason),
      signal: controller.signal,
    })
    await expect(pending).rejects.toBe(reason)
    expect(await listFiles(join(root, 'failures', 'abort')).catch(() => [])).toEqual([])
  })

  it('rejects malformed arguments before any request', async () => {
    const before = hub.requests.length
    for (const options of [
      { repo: '../etc' },
      { repo: 'a/b/c' },
      { repo: 'acme/flat', files: ['tokenizer.json'] },
      { repo: 'acme/flat', files: ['../model.onnx'] },
      { repo: 'acme/flat', endpoint: 'ftp://example' },
      { repo: 'acme/flat', name: 'Bad Name' },
    ]) {
      await expect(
        pullModel({ endpoint: hub.endpoint, dir: join(root, 'x'), ...options }),
      ).rejects.toMatchObject({
        code: 'ERR_INVALID_MODEL_ENTRY',
      })
    }
    expect(hub.requests.length).toBe(before)
    await rm(join(root, 'x'), { recursive: true, force: true })
  })
})
