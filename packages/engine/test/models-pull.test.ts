import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import type { LookupFunction } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256File } from '../src/models/hash.js'
import { listRepoFiles } from '../src/models/hub.js'
import { readManifest } from '../src/models/manifest.js'
import { type PullProgress, pullModel } from '../src/models/pull.js'
import { modelRegistry } from '../src/models/registry.js'
import { closedPort, type Hub, listFiles, startHub } from './fixtures/hub.js'

/** Writes files (path → content) under `dir`. */
async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), content)
  }
}

describe('pullModel', () => {
  let root: string
  let hub: Hub
  let nested: string
  let flat: string

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'p2p-ai-pull-'))
    // Models of a format the engine knows nothing about: weights (stored in LFS) and companions.
    nested = join(root, 'hub', 'nested')
    await writeTree(nested, {
      'weights/model.bin': 'w'.repeat(50_000),
      'vocab.txt': 'a\nb\n',
      'config.json': '{"layers": 2}',
    })
    flat = join(root, 'hub', 'flat')
    await writeTree(flat, { 'model.bin': 'f'.repeat(50_000), 'vocab.txt': 'a\n' })
    hub = await startHub({
      'acme/nested': { dir: nested },
      'acme/flat': { dir: flat },
      'acme/liar': { dir: flat, lieAboutSha: 'a'.repeat(64) },
      'acme/stall': { dir: flat, stall: true },
      'acme/truncated': { dir: flat, truncate: true },
      'acme/flaky': { dir: flat, cuts: 1 },
      'acme/flaky-no-ranges': { dir: flat, cuts: 1, noRanges: true },
      'acme/down': { dir: flat, status: 503 },
      'acme/private': { dir: flat, status: 401 },
    })
  })
  afterAll(async () => {
    await hub?.close()
    await rm(root, { recursive: true, force: true })
  })

  it('downloads the first model file that exists, required and optional files, records sha256s and registers it', async () => {
    const registry = modelRegistry({
      format: { id: 'bin', extensions: ['.bin'], modelFiles: ['model.bin'] },
    })
    const dir = join(root, 'models', 'nested')
    const progress: PullProgress[] = []
    const pulled = await pullModel({
      repo: 'acme/nested',
      endpoint: hub.endpoint,
      dir,
      model: ['weights/model.bin', 'model.bin'],
      files: ['vocab.txt'],
      optionalFiles: ['config.json', 'special.json'],
      registry,
      onProgress: (p) => progress.push(p),
    })
    expect(pulled.name).toBe('nested')
    expect(await listFiles(dir)).toEqual([
      'config.json',
      'p2p-ai-model.json',
      'vocab.txt',
      'weights/model.bin',
    ])
    const manifest = await readManifest(dir)
    expect(manifest).toMatchObject({
      name: 'nested',
      model: 'weights/model.bin',
      format: 'bin',
      source: { endpoint: hub.endpoint, repo: 'acme/nested', revision: 'main' },
    })
    expect(manifest?.files['weights/model.bin']?.sha256).toBe(
      await sha256File(join(nested, 'weights', 'model.bin')),
    )
    const last = progress.filter((p) => p.file === 'weights/model.bin').at(-1)
    expect(last?.receivedBytes).toBe(last?.totalBytes)
    expect((await registry.resolve('nested')).sha256).toBe(pulled.entry.sha256)

    // Another process finds it by scanning the models directory.
    const scanned = modelRegistry()
    expect((await scanned.scan(join(root, 'models'))).registered).toEqual(['nested'])
  })

  it('takes one model file, a revision, a name and a token', async () => {
    const dir = join(root, 'models', 'explicit')
    const pulled = await pullModel({
      repo: 'acme/flat',
      revision: 'v1.0',
      name: 'flat-v1',
      model: 'model.bin',
      files: ['vocab.txt'],
      endpoint: `${hub.endpoint}/`,
      dir,
      token: 'secret-token',
    })
    expect(await listFiles(dir)).toEqual(['model.bin', 'p2p-ai-model.json', 'vocab.txt'])
    expect(pulled.manifest.source?.revision).toBe('v1.0')
    expect(pulled.manifest.format).toBeUndefined()
    const first = hub.requests.find((r) => r.url === '/acme/flat/resolve/v1.0/model.bin')
    expect(first?.headers.authorization).toBe('Bearer secret-token')
    // Redirects stay on the same origin here, so the token follows them.
    expect(hub.requests.find((r) => r.url === '/cdn/acme/flat/model.bin')?.headers.authorization).toBe(
      'Bearer secret-token',
    )
  })

  async function failure(options: Partial<Parameters<typeof pullModel>[0]>, dirName: string) {
    const dir = join(root, 'failures', dirName)
    const err = await pullModel({
      repo: 'acme/flat',
      model: 'model.bin',
      endpoint: hub.endpoint,
      dir,
      ...options,
    }).catch((e) => e)
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
    const missing = await failure({ files: ['vocab.txt', 'merges.txt'] }, 'missing')
    expect(missing.err).toMatchObject({
      reason: 'http-status',
      status: 404,
      url: expect.stringContaining('merges.txt'),
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
    // What arrived is kept for the next pull; no manifest, so nothing registers the directory.
    expect(await listFiles(cut.dir)).toEqual(['model.bin.partial'])
  })

  it('continues an interrupted pull from its partial file with a Range request', async () => {
    const first = await failure({ repo: 'acme/flaky', stallTimeoutMs: 5000 }, 'resume')
    expect(first.err).toMatchObject({ reason: 'network' })
    const kept = (await stat(join(first.dir, 'model.bin.partial'))).size
    expect(kept).toBe(25_000)
    const progress: PullProgress[] = []
    const pulled = await pullModel({
      repo: 'acme/flaky',
      model: 'model.bin',
      endpoint: hub.endpoint,
      dir: first.dir,
      onProgress: (p) => progress.push(p),
    })
    const ranged = hub.requests.filter((r) => r.url === '/cdn/acme/flaky/model.bin').at(-1)
    expect(ranged?.headers.range).toBe(`bytes=${kept}-`)
    expect(progress.at(-1)).toMatchObject({ receivedBytes: 50_000, totalBytes: 50_000, resumedBytes: kept })
    expect(pulled.manifest.files['model.bin']).toEqual({
      sha256: await sha256File(join(flat, 'model.bin')),
      sizeBytes: 50_000,
    })
    expect(await listFiles(first.dir)).toEqual(['model.bin', 'p2p-ai-model.json'])
  })

  it('starts over when the server ignores the range, and when the partial file is not a prefix of the file', async () => {
    const { dir } = await failure({ repo: 'acme/flaky-no-ranges', stallTimeoutMs: 5000 }, 'no-ranges')
    const pulled = await pullModel({
      repo: 'acme/flaky-no-ranges',
      model: 'model.bin',
      endpoint: hub.endpoint,
      dir,
    })
    expect(pulled.manifest.files['model.bin']?.sizeBytes).toBe(50_000)
    expect(await readFile(join(dir, 'model.bin'), 'utf8')).toBe('f'.repeat(50_000))
    // A partial file from another version of the file: the sha256 check fails, the pull starts over.
    const stale = join(root, 'failures', 'stale')
    await writeTree(stale, { 'model.bin.partial': 'x'.repeat(10_000) })
    const again = await pullModel({
      repo: 'acme/flat',
      model: 'model.bin',
      endpoint: hub.endpoint,
      dir: stale,
    })
    expect(again.manifest.files['model.bin']?.sha256).toBe(await sha256File(join(flat, 'model.bin')))
  })

  it('refuses to write a file another live process is downloading', async () => {
    const dir = join(root, 'failures', 'busy')
    // The parent of this test process is alive for as long as the test runs.
    await writeTree(dir, { 'model.bin.lock': String(process.ppid) })
    const { err } = await failure({}, 'busy')
    expect(err).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD_FAILED', reason: 'busy' })
    // A lock left by a process that is gone is taken over.
    await writeTree(dir, { 'model.bin.lock': '999999999' })
    await expect(
      pullModel({ repo: 'acme/flat', model: 'model.bin', endpoint: hub.endpoint, dir }),
    ).resolves.toBeDefined()
  })

  it("lists a repository's files, with the sha256 of those in LFS, following the listing's pages", async () => {
    const files = await listRepoFiles(hub.endpoint, 'acme/nested', 'main', { stallTimeoutMs: 5000 })
    expect(files.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'config.json', sizeBytes: 13 },
      { path: 'vocab.txt', sizeBytes: 4 },
      {
        path: 'weights/model.bin',
        sizeBytes: 50_000,
        sha256: await sha256File(join(nested, 'weights', 'model.bin')),
      },
    ])
    expect(hub.requests.some((r) => r.url?.includes('cursor=page2'))).toBe(true)
    await expect(
      listRepoFiles(hub.endpoint, 'acme/none', 'main', { stallTimeoutMs: 5000 }),
    ).rejects.toMatchObject({
      reason: 'http-status',
      status: 404,
    })
  })

  it('stops with the signal reason when aborted and keeps the partial file for the next pull', async () => {
    const controller = new AbortController()
    const reason = new Error('user cancelled')
    const pending = pullModel({
      repo: 'acme/stall',
      model: 'model.bin',
      endpoint: hub.endpoint,
      dir: join(root, 'failures', 'abort'),
      stallTimeoutMs: 10_000,
      onProgress: () => controller.abort(reason),
      signal: controller.signal,
    })
    await expect(pending).rejects.toBe(reason)
    expect(await listFiles(join(root, 'failures', 'abort'))).toEqual(['model.bin.partial'])
  })

  it('rejects malformed arguments before any request', async () => {
    const before = hub.requests.length
    for (const options of [
      { repo: '../etc' },
      { repo: 'a/b/c' },
      { repo: 'acme/flat', model: [] },
      { repo: 'acme/flat', files: ['../model.bin'] },
      { repo: 'acme/flat', optionalFiles: ['/etc/passwd'] },
      { repo: 'acme/flat', endpoint: 'ftp://example' },
      { repo: 'acme/flat', name: 'Bad Name' },
    ]) {
      await expect(
        pullModel({ model: 'model.bin', endpoint: hub.endpoint, dir: join(root, 'x'), ...options }),
      ).rejects.toMatchObject({
        code: 'ERR_INVALID_MODEL_ENTRY',
      })
    }
    expect(hub.requests.length).toBe(before)
    await rm(join(root, 'x'), { recursive: true, force: true })
  })
})
