// The key file layout (version 1), kept apart from the I/O so it can be read and tested alone:
//
//   {
//     "format": "p2p-ai-identity",
//     "version": 1,
//     "type": "ed25519",
//     "peerId": "12D3KooW...",
//     "publicKey": "<base64, 32 bytes>",
//     "seed": "<base64, 32 bytes: the private key>",
//     "createdAt": "2025-06-01T12:00:00.000Z"
//   }
//
// The seed is the only secret and the source of truth; publicKey and peerId are there for people
// and tools to read, and are cross-checked against the seed on load.

import { equalBytes } from './bytes.js'
import { KEY_FILE_FORMAT, KEY_FILE_VERSION, PUBLIC_KEY_LENGTH, SEED_LENGTH } from './constants.js'
import {
  KeyFileBadLengthError,
  KeyFileCorruptError,
  KeyFileMismatchError,
  KeyFileUnsupportedVersionError,
  KeyFileWrongTypeError,
} from './errors.js'
import { type Identity, type IdentityInit, identityFromSeed } from './identity.js'

/** The JSON document of a key file. */
export interface KeyFileV1 {
  format: typeof KEY_FILE_FORMAT
  version: typeof KEY_FILE_VERSION
  type: 'ed25519'
  peerId: string
  publicKey: string
  seed: string
  createdAt: string
}

/** The text of a key file for `identity`. */
export function encodeKeyFile(identity: Identity, createdAt: Date = new Date()): string {
  const doc: KeyFileV1 = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    type: 'ed25519',
    peerId: identity.peerId,
    publicKey: toBase64(identity.publicKey),
    seed: toBase64(identity.exportSeed()),
    createdAt: createdAt.toISOString(),
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

const FIX_REGENERATE =
  'restore it from a backup, or move it away to start over with a new identity (a new peer ID)'

/**
 * The identity stored in key file `text`, checked field by field. Every failure is a
 * `KeyFileError` naming `path`, saying what is wrong and how to fix it.
 */
export function decodeKeyFile(path: string, text: string, init: IdentityInit = {}): Identity {
  const where = `key file ${path}`
  if (text.trim() === '') throw new KeyFileCorruptError(path, `${where} is empty; ${FIX_REGENERATE}`)
  if (text.trimStart().startsWith('-----BEGIN')) {
    throw new KeyFileWrongTypeError(
      path,
      `${where} is a PEM file, not a p2p-ai identity (JSON with "format": "${KEY_FILE_FORMAT}"); point to the identity file instead`,
    )
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    const truncated = isTruncation((err as Error).message, text)
    throw new KeyFileCorruptError(
      path,
      `${where} is ${truncated ? 'truncated' : 'garbled'} (${(err as Error).message}); ${FIX_REGENERATE}`,
      { cause: err },
    )
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new KeyFileCorruptError(path, `${where} is JSON but not an object; ${FIX_REGENERATE}`)
  }
  const fields = doc as Record<string, unknown>
  if (fields.format !== KEY_FILE_FORMAT) {
    throw new KeyFileWrongTypeError(
      path,
      `${where} is not a p2p-ai identity: "format" is ${JSON.stringify(fields.format) ?? 'missing'}, expected "${KEY_FILE_FORMAT}"; point to the identity file instead`,
    )
  }
  if (fields.version !== KEY_FILE_VERSION) {
    throw new KeyFileUnsupportedVersionError(
      path,
      `${where} has layout version ${JSON.stringify(fields.version) ?? '(missing)'}; this version of @p2p-ai/identity reads version ${KEY_FILE_VERSION}. Upgrade p2p-ai if the file was written by a newer release`,
    )
  }
  if (fields.type !== 'ed25519') {
    throw new KeyFileWrongTypeError(
      path,
      `${where} holds a key of type ${JSON.stringify(fields.type) ?? '(missing)'}; only "ed25519" identities are supported`,
    )
  }
  const seed = bytesField(path, fields, 'seed', SEED_LENGTH)
  const publicKey = bytesField(path, fields, 'publicKey', PUBLIC_KEY_LENGTH)
  if (typeof fields.peerId !== 'string') {
    throw new KeyFileCorruptError(path, `${where}: "peerId" is missing or not a string; ${FIX_REGENERATE}`)
  }
  const identity = identityFromSeed(seed, init)
  if (!equalBytes(identity.publicKey, publicKey)) {
    throw new KeyFileMismatchError(
      path,
      `${where}: "publicKey" does not belong to "seed" (the file was edited or damaged); ${FIX_REGENERATE}`,
    )
  }
  if (identity.peerId !== fields.peerId) {
    throw new KeyFileMismatchError(
      path,
      `${where}: "peerId" ${JSON.stringify(fields.peerId)} does not belong to "seed", whose peer ID is ${identity.peerId} (the file was edited or damaged); ${FIX_REGENERATE}`,
    )
  }
  return identity
}

/** Whether a JSON.parse error happened at the very end of the text: the file was cut short. */
function isTruncation(message: string, text: string): boolean {
  if (/end of (JSON )?input|Unterminated/i.test(message)) return true
  const position = /at position (\d+)/.exec(message)
  return position !== null && Number(position[1]) >= text.trimEnd().length
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function bytesField(path: string, fields: Record<string, unknown>, name: string, length: number): Uint8Array {
  const value = fields[name]
  if (typeof value !== 'string') {
    throw new KeyFileCorruptError(
      path,
      `key file ${path}: "${name}" is missing or not a string; ${FIX_REGENERATE}`,
    )
  }
  // Buffer.from(..., 'base64') skips bad characters silently; a damaged key must not decode.
  if (!BASE64.test(value)) {
    throw new KeyFileCorruptError(path, `key file ${path}: "${name}" is not valid base64; ${FIX_REGENERATE}`)
  }
  const bytes = fromBase64(value)
  if (bytes.length !== length) {
    throw new KeyFileBadLengthError(
      path,
      `key file ${path}: "${name}" is ${bytes.length} bytes, an Ed25519 ${name === 'seed' ? 'seed' : 'public key'} is ${length}; ${FIX_REGENERATE}`,
    )
  }
  return bytes
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

function fromBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice()
}
