import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nobleEd25519 } from '../src/ed25519.js'
import { KeyFileError } from '../src/errors.js'
import { generateIdentity, type Identity, identityFromSeed } from '../src/identity.js'
import { loadIdentity, loadOrCreateIdentity, saveIdentity } from '../src/key-file.js'
import { encodeKeyFile } from '../src/key-file-format.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-test-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777

/** Loads `path` expecting a KeyFileError; returns it. */
async function loadError(path: string): Promise<KeyFileError> {
  const err = await loadIdentity(path).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(KeyFileError)
  const keyFileError = err as KeyFileError
  expect(keyFileError.path).toBe(path)
  expect(keyFileError.message).toContain(path)
  expect(keyFileError.name).toBe(keyFileError.constructor.name)
  return keyFileError
}

/** Writes `text` as an owner-only file, as a real key file would be. */
async function writeKeyFile(path: string, text: string | Uint8Array): Promise<void> {
  await writeFile(path, text, { mode: 0o600 })
  await chmod(path, 0o600)
}

describe('saveIdentity and loadIdentity', () => {
  it('round-trip an identity through an owner-only file in owner-only directories', async () => {
    const identity = generateIdentity()
    const path = join(dir, 'nested', 'deeper', 'identity.json')
    await saveIdentity(identity, path)
    expect(await modeOf(path)).toBe(0o600)
    expect(await modeOf(join(dir, 'nested'))).toBe(0o700)
    expect(await modeOf(join(dir, 'nested', 'deeper'))).toBe(0o700)

    const loaded = await loadIdentity(path)
    expect(loaded.peerId).toBe(identity.peerId)
    expect(loaded.exportSeed()).toEqual(identity.exportSeed())
    const data = new TextEncoder().encode('after reload')
    expect(identity.verify(data, loaded.sign(data))).toBe(true)
    expect(await readdir(join(dir, 'nested', 'deeper'))).toEqual(['identity.json'])
  })

  it('write a documented, human-readable JSON layout', async () => {
    const identity = generateIdentity()
    const path = join(dir, 'identity.json')
    await saveIdentity(identity, path)
    const doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    expect(Object.keys(doc)).toEqual([
      'format',
      'version',
      'type',
      'peerId',
      'publicKey',
      'seed',
      'createdAt',
    ])
    expect(doc).toMatchObject({
      format: 'p2p-ai-identity',
      version: 1,
      type: 'ed25519',
      peerId: identity.peerId,
      publicKey: Buffer.from(identity.publicKey).toString('base64'),
      seed: Buffer.from(identity.exportSeed()).toString('base64'),
    })
    expect(new Date(doc.createdAt as string).getTime()).toBeGreaterThan(0)
  })

  it('load with the provider asked for', async () => {
    const path = join(dir, 'identity.json')
    const identity = generateIdentity({ crypto: nobleEd25519 })
    await saveIdentity(identity, path)
    const loaded = await loadIdentity(path, { crypto: nobleEd25519 })
    expect(loaded.peerId).toBe(identity.peerId)
  })

  it('never overwrite an existing file', async () => {
    const path = join(dir, 'identity.json')
    const first = generateIdentity()
    await saveIdentity(first, path)
    const before = await readFile(path, 'utf8')
    const err = await saveIdentity(generateIdentity(), path).then(
      () => undefined,
      (e: unknown) => e as KeyFileError,
    )
    expect(err?.code).toBe('ERR_KEY_FILE_EXISTS')
    expect(err?.name).toBe('KeyFileExistsError')
    expect(err?.message).toContain(path)
    expect(await readFile(path, 'utf8')).toBe(before)
    expect(await readdir(dir)).toEqual(['identity.json'])
  })

  it('never overwrite a file that is not a key file either', async () => {
    const path = join(dir, 'notes.txt')
    await writeFile(path, 'my notes')
    await expect(saveIdentity(generateIdentity(), path)).rejects.toMatchObject({
      code: 'ERR_KEY_FILE_EXISTS',
    })
    expect(await readFile(path, 'utf8')).toBe('my notes')
  })

  it('report a directory that cannot be created, naming the file', async () => {
    const blocker = join(dir, 'blocker')
    await writeFile(blocker, 'a file where a directory should be')
    const path = join(blocker, 'identity.json')
    await expect(saveIdentity(generateIdentity(), path)).rejects.toMatchObject({
      code: 'ERR_KEY_FILE_WRITE',
      name: 'KeyFileWriteError',
      path,
    })
  })

  it('save what the seed implies, whatever the identity object claims', async () => {
    const real = generateIdentity()
    const liar: Identity = { ...real, peerId: generateIdentity().peerId, exportSeed: () => real.exportSeed() }
    const path = join(dir, 'identity.json')
    await saveIdentity(liar, path)
    expect((await loadIdentity(path)).peerId).toBe(real.peerId)
  })
})

describe('loadIdentity refuses damaged or foreign files with a specific error', () => {
  const identity = identityFromSeed(new Uint8Array(32).fill(1))
  const good = encodeKeyFile(identity)
  const doc = (): Record<string, unknown> => JSON.parse(good) as Record<string, unknown>
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

  it.each<[string, string | Uint8Array, string, RegExp]>([
    ['an empty file', '', 'ERR_KEY_FILE_CORRUPT', /is empty/],
    ['a truncated file', good.slice(0, good.length / 2), 'ERR_KEY_FILE_CORRUPT', /is truncated/],
    [
      'a file cut just before its closing brace',
      good.trimEnd().slice(0, -1),
      'ERR_KEY_FILE_CORRUPT',
      /is truncated/,
    ],
    ['a garbled file', good.replace('"seed"', '"seed" ::'), 'ERR_KEY_FILE_CORRUPT', /is garbled/],
    [
      'binary data',
      new Uint8Array([0x08, 0x01, 0x12, 0x40, 0xff, 0xfe, 0x00]),
      'ERR_KEY_FILE_CORRUPT',
      /not UTF-8/,
    ],
    ['a JSON array', '[1, 2, 3]', 'ERR_KEY_FILE_CORRUPT', /not an object/],
    [
      'a file over 64 KiB',
      `{"pad": "${'x'.repeat(70_000)}"}`,
      'ERR_KEY_FILE_CORRUPT',
      /larger than 65536 bytes/,
    ],
    [
      'a missing seed',
      JSON.stringify({ ...doc(), seed: undefined }),
      'ERR_KEY_FILE_CORRUPT',
      /"seed" is missing/,
    ],
    [
      'a seed that is not base64',
      JSON.stringify({ ...doc(), seed: 'not base64!' }),
      'ERR_KEY_FILE_CORRUPT',
      /not valid base64/,
    ],
    [
      'a missing peer ID',
      JSON.stringify({ ...doc(), peerId: 7 }),
      'ERR_KEY_FILE_CORRUPT',
      /"peerId" is missing/,
    ],
    [
      'a PEM key',
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n',
      'ERR_KEY_FILE_WRONG_TYPE',
      /PEM file/,
    ],
    [
      'another JSON document',
      '{"name": "my-package", "version": "1.0.0"}',
      'ERR_KEY_FILE_WRONG_TYPE',
      /not a p2p-ai identity/,
    ],
    [
      'a secp256k1 key',
      JSON.stringify({ ...doc(), type: 'secp256k1' }),
      'ERR_KEY_FILE_WRONG_TYPE',
      /"secp256k1"; only "ed25519"/,
    ],
    [
      'a future layout',
      JSON.stringify({ ...doc(), version: 2 }),
      'ERR_KEY_FILE_UNSUPPORTED_VERSION',
      /version 2/,
    ],
    [
      'a 31-byte seed',
      JSON.stringify({ ...doc(), seed: b64(new Uint8Array(31)) }),
      'ERR_KEY_FILE_BAD_LENGTH',
      /"seed" is 31 bytes/,
    ],
    [
      'a 64-byte seed',
      JSON.stringify({ ...doc(), seed: b64(new Uint8Array(64)) }),
      'ERR_KEY_FILE_BAD_LENGTH',
      /"seed" is 64 bytes/,
    ],
    [
      'a 33-byte public key',
      JSON.stringify({ ...doc(), publicKey: b64(new Uint8Array(33)) }),
      'ERR_KEY_FILE_BAD_LENGTH',
      /"publicKey" is 33 bytes/,
    ],
    [
      'a public key of another seed',
      JSON.stringify({ ...doc(), publicKey: b64(generateIdentity().publicKey) }),
      'ERR_KEY_FILE_MISMATCH',
      /"publicKey" does not belong/,
    ],
    [
      'a peer ID of another key',
      JSON.stringify({ ...doc(), peerId: generateIdentity().peerId }),
      'ERR_KEY_FILE_MISMATCH',
      /"peerId" .* does not belong/,
    ],
  ])('%s', async (_what, content, code, message) => {
    const path = join(dir, 'identity.json')
    await writeKeyFile(path, content)
    const before = await readFile(path)
    const err = await loadError(path)
    expect(err.code).toBe(code)
    expect(err.message).toMatch(message)
    // Loading never repairs, rewrites or replaces the file.
    expect((await readFile(path)).equals(before)).toBe(true)
  })

  it.each([0o644, 0o640, 0o604, 0o660, 0o602])('a file with mode %o, until it is chmod 600', async (mode) => {
    const path = join(dir, 'identity.json')
    await saveIdentity(identity, path)
    await chmod(path, mode)
    const err = await loadError(path)
    expect(err.code).toBe('ERR_KEY_FILE_INSECURE_PERMISSIONS')
    expect(err.name).toBe('KeyFileInsecurePermissionsError')
    expect(err.message).toContain(`chmod 600 ${path}`)
    await chmod(path, 0o600)
    expect((await loadIdentity(path)).peerId).toBe(identity.peerId)
  })

  it('accepts an owner read-only file (0400)', async () => {
    const path = join(dir, 'identity.json')
    await saveIdentity(identity, path)
    await chmod(path, 0o400)
    expect((await loadIdentity(path)).peerId).toBe(identity.peerId)
  })

  it('a missing file', async () => {
    const err = await loadError(join(dir, 'absent.json'))
    expect(err.code).toBe('ERR_KEY_FILE_NOT_FOUND')
  })

  it('a directory', async () => {
    const path = join(dir, 'a-directory')
    await mkdir(path, { mode: 0o700 })
    const err = await loadError(path)
    expect(err.code).toBe('ERR_KEY_FILE_UNREADABLE')
  })
})

describe('loadOrCreateIdentity', () => {
  it('creates an identity when there is no file, then loads that same identity', async () => {
    const path = join(dir, 'sub', 'identity.json')
    const first = await loadOrCreateIdentity(path)
    expect(first.created).toBe(true)
    expect(await modeOf(path)).toBe(0o600)
    expect(await modeOf(join(dir, 'sub'))).toBe(0o700)
    const second = await loadOrCreateIdentity(path)
    expect(second.created).toBe(false)
    expect(second.identity.peerId).toBe(first.identity.peerId)
  })

  it('never replaces a damaged file with a new identity', async () => {
    const path = join(dir, 'identity.json')
    await writeKeyFile(path, '{"format": "p2p-ai-identity", "vers')
    await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({ code: 'ERR_KEY_FILE_CORRUPT', path })
    expect(await readFile(path, 'utf8')).toBe('{"format": "p2p-ai-identity", "vers')
  })

  it('never replaces a file with loose permissions either', async () => {
    const path = join(dir, 'identity.json')
    await saveIdentity(generateIdentity(), path)
    await chmod(path, 0o644)
    await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({
      code: 'ERR_KEY_FILE_INSECURE_PERMISSIONS',
    })
  })

  it('agrees on one identity when called concurrently; exactly one call creates it', async () => {
    const path = join(dir, 'identity.json')
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(path)))
    expect(new Set(results.map((r) => r.identity.peerId)).size).toBe(1)
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect((await loadIdentity(path)).peerId).toBe(results[0]!.identity.peerId)
    expect(await readdir(dir)).toEqual(['identity.json'])
  })

  it('agrees on one identity across processes racing to create it', async () => {
    const path = join(dir, 'identity.json')
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url))
    // All processes wait for the same instant, so their load-then-create sequences overlap.
    const startAt = Date.now() + 2000
    const script = `
      const { loadOrCreateIdentity } = await import(${JSON.stringify(entry)})
      await new Promise((resolve) => setTimeout(resolve, ${startAt} - Date.now()))
      const { identity, created } = await loadOrCreateIdentity(${JSON.stringify(path)})
      console.log(JSON.stringify({ peerId: identity.peerId, created }))
    `
    const run = promisify(execFile)
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script])),
    )
    const results = outputs.map((o) => JSON.parse(o.stdout) as { peerId: string; created: boolean })
    expect(new Set(results.map((r) => r.peerId)).size).toBe(1)
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect((await loadIdentity(path)).peerId).toBe(results[0]!.peerId)
  })
})
