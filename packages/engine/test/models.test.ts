import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidModelEntryError } from '../src/errors.js'
import type { ModelFormat } from '../src/models/format.js'
import { hashCache, sha256File } from '../src/models/hash.js'
import { writeManifest } from '../src/models/manifest.js'
import { type ModelEntry, modelRegistry, type ResolvedModel } from '../src/models/registry.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'p2p-ai-models-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A model file of some format the engine knows nothing about. */
async function modelFile(name: string, content = `weights of ${name}`): Promise<string> {
  const file = join(root, name)
  await mkdir(join(file, '..'), { recursive: true })
  await writeFile(file, content)
  return file
}

/** What a plug-in tells the registry: a `.bin` format with a `layers` field of its own. */
interface BinEntry extends ModelEntry {
  readonly layers?: number
}
interface BinModel extends ResolvedModel<BinEntry> {
  readonly vocabFile?: string
}
const binFormat: ModelFormat<BinEntry, BinModel> = {
  id: 'bin',
  extensions: ['.bin'],
  modelFiles: ['weights.bin', 'nested/weights.bin'],
  validateEntry(entry) {
    if (entry.layers !== undefined && !(Number.isSafeInteger(entry.layers) && entry.layers > 0)) {
      throw new InvalidModelEntryError(`model entry ${entry.name}: layers must be a positive integer`)
    }
    return entry
  },
  async complete(model) {
    const vocab = join(model.dir, 'vocab.txt')
    const hasVocab = model.isDirectory && (await stat(vocab).catch(() => undefined)) !== undefined
    return {
      ...model,
      taskTypes: model.entry.taskTypes ?? (hasVocab ? ['generate', 'tokenize'] : ['generate']),
      ...(hasVocab ? { vocabFile: vocab } : {}),
    }
  },
}

describe('model registry', () => {
  it('checks the registered sha256 on every resolve, noticing a file changed on disk', async () => {
    const file = await modelFile('m.bin')
    const sha256 = await sha256File(file)
    const registry = modelRegistry({ models: [{ name: 'm', path: file, sha256 }] })
    expect(await registry.resolve('m')).toMatchObject({ sha256, modelFile: file, isDirectory: false })
    await writeFile(file, Buffer.from('tampered'))
    await expect(registry.resolve('m')).rejects.toMatchObject({ code: 'ERR_MODEL_CORRUPT' })
  })

  it('rejects malformed entries with ERR_INVALID_MODEL_ENTRY', () => {
    const registry = modelRegistry()
    const bad = [
      { name: 'UPPER', path: '/x' },
      { name: 'ok', path: '' },
      { name: 'ok', path: '/x', sha256: 'abc' },
      { name: 'ok', path: '/x', model: '../escape.bin' },
      { name: 'ok', path: '/x', files: { 'vocab.txt': 'nothex' } },
      { name: 'ok', path: '/x', taskTypes: [''] },
    ]
    for (const entry of bad) {
      expect(() => registry.register(entry), JSON.stringify(entry)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_MODEL_ENTRY', name: 'InvalidModelEntryError' }),
      )
    }
    expect(registry.list()).toEqual([])
  })

  it('replaces, lists and unregisters entries; relative paths become absolute', () => {
    const registry = modelRegistry({ models: [{ name: 'a', path: 'rel/model.bin' }] })
    expect(registry.get('a')?.path).toBe(join(process.cwd(), 'rel/model.bin'))
    registry.register({ name: 'a', path: '/abs/model.bin' })
    expect(registry.list().map((e) => e.path)).toEqual(['/abs/model.bin'])
    expect(registry.unregister('a')).toBe(true)
    expect(registry.unregister('a')).toBe(false)
  })

  it('reports a missing model, file or directory entry with ERR_MODEL_NOT_FOUND', async () => {
    await mkdir(join(root, 'empty'))
    const registry = modelRegistry({
      models: [
        { name: 'gone', path: join(root, 'gone.bin') },
        { name: 'dir', path: join(root, 'empty') },
      ],
    })
    await expect(registry.resolve('nope')).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('registered: gone, dir'),
    })
    await expect(registry.resolve('gone')).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
    // Without a format, a directory entry must say which file is the model.
    await expect(registry.resolve('dir')).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('name it with `model`'),
    })
  })

  it("uses a plug-in's format: its file names in a directory, its own fields, its task types", async () => {
    await modelFile('plain/weights.bin')
    await modelFile('nested/nested/weights.bin')
    await writeFile(join(root, 'nested', 'vocab.txt'), 'a\nb\n')
    const registry = modelRegistry({
      format: binFormat,
      models: [
        { name: 'plain', path: join(root, 'plain') },
        { name: 'nested', path: join(root, 'nested'), layers: 2 },
      ],
    })
    expect(await registry.resolve('plain')).toMatchObject({
      modelFile: join(root, 'plain', 'weights.bin'),
      isDirectory: true,
      taskTypes: ['generate'],
    })
    const nested = await registry.resolve('nested')
    expect(nested).toMatchObject({
      modelFile: join(root, 'nested', 'nested', 'weights.bin'),
      vocabFile: join(root, 'nested', 'vocab.txt'),
      taskTypes: ['generate', 'tokenize'],
      entry: { layers: 2 },
    })
    expect(() => registry.register({ name: 'deep', path: '/x', layers: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MODEL_ENTRY' }),
    )
    await expect(registry.resolve('missing')).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
    await mkdir(join(root, 'other'))
    registry.register({ name: 'other', path: join(root, 'other') })
    await expect(registry.resolve('other')).rejects.toMatchObject({
      message: expect.stringContaining('weights.bin or nested/weights.bin'),
    })
  })

  it('registers pulled directories from their manifests and reports broken ones', async () => {
    const good = join(root, 'good')
    const sha = await sha256File(await modelFile('good/weights.bin'))
    const vocab = await sha256File(await modelFile('good/vocab.txt', 'a\n'))
    await writeManifest(good, {
      version: 1,
      name: 'good-model',
      model: 'weights.bin',
      files: { 'weights.bin': { sha256: sha, sizeBytes: 1 }, 'vocab.txt': { sha256: vocab, sizeBytes: 1 } },
      createdAt: new Date().toISOString(),
    })
    await mkdir(join(root, 'broken'))
    await writeFile(join(root, 'broken', 'p2p-ai-model.json'), '{"version": 2}')
    await mkdir(join(root, 'incomplete'))
    const registry = modelRegistry({ format: binFormat })
    const result = await registry.scan(root)
    expect(result.registered).toEqual(['good-model'])
    expect(result.skipped).toEqual([
      { dir: join(root, 'broken'), reason: expect.stringContaining('not a valid') },
    ])
    expect(registry.get('good-model')).toMatchObject({ sha256: sha, files: { 'vocab.txt': vocab } })
    expect((await registry.resolve('good-model')).sha256).toBe(sha)
    expect(await registry.scan(join(root, 'does-not-exist'))).toEqual({ registered: [], skipped: [] })
  })

  it("leaves another format's pulled models to its plug-in", async () => {
    const write = async (sub: string, model: string, format?: string) => {
      const sha = await sha256File(await modelFile(`${sub}/${model}`))
      await writeManifest(join(root, sub), {
        version: 1,
        name: sub,
        model,
        ...(format === undefined ? {} : { format }),
        files: { [model]: { sha256: sha, sizeBytes: 1 } },
        createdAt: new Date().toISOString(),
      })
    }
    await write('mine', 'weights.bin', 'bin')
    await write('mine-by-extension', 'weights.bin')
    await write('theirs', 'model.onnx', 'onnx')
    await write('theirs-by-extension', 'model.onnx')
    expect((await modelRegistry({ format: binFormat }).scan(root)).registered).toEqual([
      'mine',
      'mine-by-extension',
    ])
    // A registry without a format takes every pulled model.
    expect((await modelRegistry().scan(root)).registered).toHaveLength(4)
  })
})

/** A hash no file here has: where it comes back, the cache answered without reading the file. */
const MARK = 'f'.repeat(64)

/** Rewrites what a cache file remembers for `path`. */
async function rememberedAs(cacheFile: string, path: string, sha256: string): Promise<void> {
  const content = JSON.parse(await readFile(cacheFile, 'utf8')) as {
    files: Record<string, { sha256: string }>
  }
  content.files[path]!.sha256 = sha256
  await writeFile(cacheFile, JSON.stringify(content))
}

describe('hash cache', () => {
  it('hashes a file once and again only when it changes', async () => {
    const file = await modelFile('m.bin', 'first')
    const cache = hashCache()
    const first = await cache.hash(file)
    expect(first).toEqual({ sha256: await sha256File(file), sizeBytes: 5 })
    await writeFile(file, 'other')
    const second = await cache.hash(file)
    expect(second.sha256).toBe(await sha256File(file))
    expect(second.sha256).not.toBe(first.sha256)
  })

  it('notices a file rewritten in place with its size and mtime put back', async () => {
    const file = await modelFile('m.bin', 'aaaa')
    const mtime = 1_700_000_000 // whole seconds, so it can be put back exactly
    await utimes(file, mtime, mtime)
    const cache = hashCache()
    const first = await cache.hash(file)
    // Same size, same mtime: only the ctime (which nobody can set back) tells.
    await new Promise((resolve) => setTimeout(resolve, 20))
    await writeFile(file, 'bbbb')
    await utimes(file, mtime, mtime)
    expect((await stat(file)).mtimeMs).toBe(mtime * 1000)
    expect((await cache.hash(file)).sha256).not.toBe(first.sha256)
  })

  it('persists hashes in its file, so another cache (a restart) does not hash again', async () => {
    const file = await modelFile('m.bin', 'weights')
    const cacheFile = join(root, 'data', 'model-hashes.json')
    await mkdir(join(root, 'data'), { mode: 0o700 })
    expect(await hashCache({ file: cacheFile }).hash(file)).toEqual({
      sha256: await sha256File(file),
      sizeBytes: 7,
    })
    expect((await stat(cacheFile)).mode & 0o777).toBe(0o600)
    // Mark the remembered hash: a restart that hashed the file again could not return the mark.
    await rememberedAs(cacheFile, file, MARK)
    expect((await hashCache({ file: cacheFile }).hash(file)).sha256).toBe(MARK)
    // Another file is hashed and added next to it.
    const other = await modelFile('other.bin', 'x')
    await hashCache({ file: cacheFile }).hash(other)
    const saved = JSON.parse(await readFile(cacheFile, 'utf8')) as { files: Record<string, unknown> }
    expect(Object.keys(saved.files).sort()).toEqual([file, other].sort())
  })

  it('re-hashes a file changed since it was remembered, and survives a damaged cache file', async () => {
    const file = await modelFile('m.bin', 'one')
    const cacheFile = join(root, 'hashes.json')
    await hashCache({ file: cacheFile }).hash(file)
    await writeFile(file, 'two!')
    expect((await hashCache({ file: cacheFile }).hash(file)).sha256).toBe(await sha256File(file))
    await writeFile(cacheFile, '{ not json')
    expect((await hashCache({ file: cacheFile }).hash(file)).sha256).toBe(await sha256File(file))
    expect(JSON.parse(await readFile(cacheFile, 'utf8'))).toMatchObject({ version: 1 })
  })

  it('checks every pin against the remembered hash, which stands for the file until it changes', async () => {
    const file = await modelFile('m.bin', 'weights')
    const sha256 = await sha256File(file)
    const cacheFile = join(root, 'hashes.json')
    const hashes = hashCache({ file: cacheFile })
    const pinned = modelRegistry({ models: [{ name: 'm', path: file, sha256 }], hashes })
    expect((await pinned.resolve('m')).sha256).toBe(sha256)
    await expect(
      modelRegistry({ models: [{ name: 'm', path: file, sha256: MARK }], hashes }).resolve('m'),
    ).rejects.toMatchObject({ code: 'ERR_MODEL_CORRUPT' })
    // After a restart the pin is held to the remembered hash: the file is not read again.
    await rememberedAs(cacheFile, file, MARK)
    const restarted = hashCache({ file: cacheFile })
    await expect(
      modelRegistry({ models: [{ name: 'm', path: file, sha256 }], hashes: restarted }).resolve('m'),
    ).rejects.toMatchObject({ code: 'ERR_MODEL_CORRUPT' })
    // Touching the file makes it a changed file: hashed again, and the pin holds.
    const now = new Date()
    await utimes(file, now, new Date(now.getTime() + 1000))
    expect(
      (await modelRegistry({ models: [{ name: 'm', path: file, sha256 }], hashes: restarted }).resolve('m'))
        .sha256,
    ).toBe(sha256)
  })
})
