import type { FileHandle } from 'node:fs/promises'
import { builtin } from './builtins.js'
import { KEY_DIR_MODE, KEY_FILE_MODE, MAX_KEY_FILE_BYTES } from './constants.js'
import {
  KeyFileCorruptError,
  KeyFileError,
  KeyFileExistsError,
  KeyFileInsecurePermissionsError,
  KeyFileNotFoundError,
  KeyFileUnreadableError,
  KeyFileWriteError,
  UnsupportedRuntimeError,
} from './errors.js'
import { generateIdentity, type Identity, type IdentityInit, identityFromSeed } from './identity.js'
import { decodeKeyFile, encodeKeyFile } from './key-file-format.js'

function nodeFs(): { fs: typeof import('node:fs/promises'); path: typeof import('node:path') } {
  const fs = builtin('node:fs/promises')
  const path = builtin('node:path')
  if (fs === undefined || path === undefined) {
    throw new UnsupportedRuntimeError(
      'key files need node:fs, which this runtime lacks; use identityFromSeed() with a seed stored elsewhere',
    )
  }
  return { fs, path }
}

/**
 * Reads the identity in key file `path`. Refuses, with a `KeyFileError` naming the file, a
 * missing file (`ERR_KEY_FILE_NOT_FOUND`), one group or others can access on POSIX
 * (`ERR_KEY_FILE_INSECURE_PERMISSIONS`), an unreadable one, and any damaged or foreign content
 * (see the README's error table). Never modifies the file.
 */
export async function loadIdentity(path: string, init: IdentityInit = {}): Promise<Identity> {
  const { fs } = nodeFs()
  let handle: FileHandle
  try {
    handle = await fs.open(path, 'r')
  } catch (err) {
    throw readError(path, err)
  }
  let text: string
  try {
    // Checks go through the open handle, so they concern the very file read even if the path is
    // swapped meanwhile.
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw new KeyFileUnreadableError(
        path,
        `key file ${path} is not a regular file; point to the identity file itself`,
      )
    }
    const mode = stat.mode & 0o777
    // Windows has no POSIX permission bits to check.
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new KeyFileInsecurePermissionsError(
        path,
        `key file ${path} has mode ${mode.toString(8).padStart(4, '0')}, so other users can access the private key; run "chmod 600 ${path}" (and replace the identity if others may have copied it)`,
      )
    }
    text = await readBounded(path, handle)
  } catch (err) {
    throw err instanceof KeyFileError ? err : readError(path, err)
  } finally {
    await handle.close().catch(() => {})
  }
  return decodeKeyFile(path, text, init)
}

async function readBounded(path: string, handle: FileHandle): Promise<string> {
  // Read one byte past the limit to tell "exactly at the limit" from "too large" without trusting
  // the size from stat (the file may grow while we read).
  const buf = new Uint8Array(MAX_KEY_FILE_BYTES + 1)
  let length = 0
  for (;;) {
    const { bytesRead } = await handle.read(buf, length, buf.length - length, null)
    if (bytesRead === 0) break
    length += bytesRead
    if (length === buf.length) {
      throw new KeyFileCorruptError(
        path,
        `key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes, so it is not an identity (about 300 bytes); point to the identity file instead`,
      )
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length))
  } catch (err) {
    throw new KeyFileCorruptError(
      path,
      `key file ${path} is not UTF-8 text (binary data or damage); restore it from a backup, or move it away to start over with a new identity`,
      { cause: err },
    )
  }
}

function readError(path: string, err: unknown): KeyFileError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT')
    return new KeyFileNotFoundError(path, `key file ${path} does not exist`, { cause: err })
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied; run as the user owning it'
      : code === 'EISDIR'
        ? 'it is a directory; point to the identity file inside it'
        : (err as Error | undefined)?.message
  return new KeyFileUnreadableError(path, `key file ${path} cannot be read: ${reason}`, { cause: err })
}

/**
 * Writes `identity` to a new key file at `path`, readable by the owner only (0600), creating
 * missing directories owner-only (0700). Never overwrites: an existing file, even one created by
 * another process at the same moment, gives `KeyFileExistsError` (`ERR_KEY_FILE_EXISTS`). The file
 * appears complete or not at all: it is written to a temporary file, synced, then hard-linked into
 * place (linking fails if the name exists, unlike renaming).
 */
export async function saveIdentity(identity: Identity, path: string): Promise<void> {
  const { fs, path: paths } = nodeFs()
  // The seed is the source of truth: re-derive what the file records rather than trusting the object.
  const text = encodeKeyFile(identityFromSeed(identity.exportSeed()))
  const dir = paths.dirname(paths.resolve(path))
  try {
    await fs.mkdir(dir, { recursive: true, mode: KEY_DIR_MODE })
  } catch (err) {
    throw writeError(path, `cannot create its directory ${dir}`, err)
  }
  const tmp = paths.join(
    dir,
    `.${paths.basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`,
  )
  try {
    await writeNewFile(fs, tmp, text)
  } catch (err) {
    throw writeError(path, `cannot write a temporary file in ${dir}`, err)
  }
  try {
    await fs.link(tmp, path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw existsError(path, err)
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      throw writeError(path, 'cannot move the new key into place', err)
    }
    // Filesystems without hard links (FAT, some network mounts): create the file exclusively
    // instead. It still never overwrites, but a crash mid-write could leave a partial file.
    try {
      await writeNewFile(fs, path, text)
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') throw existsError(path, err2)
      throw writeError(path, 'cannot create it', err2)
    }
  } finally {
    await fs.unlink(tmp).catch(() => {})
  }
  await syncDirectory(fs, dir)
}

/** Creates `file` exclusively (`wx`) with mode 0600, writes `text` and syncs it to disk. */
async function writeNewFile(
  fs: typeof import('node:fs/promises'),
  file: string,
  text: string,
): Promise<void> {
  const handle = await fs.open(file, 'wx', KEY_FILE_MODE)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes the new directory entry durable; best effort (not possible on Windows). */
async function syncDirectory(fs: typeof import('node:fs/promises'), dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // The file itself is synced; only a crash in the next instant could lose the entry.
  }
}

function existsError(path: string, cause: unknown): KeyFileExistsError {
  return new KeyFileExistsError(
    path,
    `key file ${path} already exists and is never overwritten; load it, or move it away first to replace the identity`,
    { cause },
  )
}

function writeError(path: string, what: string, err: unknown): KeyFileWriteError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied; choose a directory you own'
      : code === 'ENOSPC'
        ? 'the disk is full'
        : code === 'EROFS'
          ? 'the filesystem is read-only'
          : (err as Error | undefined)?.message
  return new KeyFileWriteError(path, `key file ${path}: ${what}: ${hint}`, { cause: err })
}

/**
 * Loads the identity at `path`, or creates and saves a new one when no file exists there.
 * `created` tells which. Any other failure (a damaged file, bad permissions) is thrown, never
 * papered over with a new identity. Concurrent calls, in one process or several, agree on one
 * identity: exactly one creates it.
 */
export async function loadOrCreateIdentity(
  path: string,
  init: IdentityInit = {},
): Promise<{ identity: Identity; created: boolean }> {
  try {
    return { identity: await loadIdentity(path, init), created: false }
  } catch (err) {
    if (!(err instanceof KeyFileNotFoundError)) throw err
  }
  const identity = generateIdentity(init)
  try {
    await saveIdentity(identity, path)
    return { identity, created: true }
  } catch (err) {
    // Someone else created it between our read and our write: theirs wins, complete by construction.
    if (err instanceof KeyFileExistsError) return { identity: await loadIdentity(path, init), created: false }
    throw err
  }
}
