/**
 * Ed25519 identities for p2p-ai: generate a key (well under 1 ms), derive its libp2p peer ID
 * (`12D3KooW…`, identical to js-libp2p's), sign and verify bytes, and keep the key in an
 * owner-only key file that is never overwritten or silently regenerated.
 *
 * Signing uses node:crypto where it has Ed25519 (16–19× faster) and @noble/curves elsewhere
 * (browsers), behind one {@link Ed25519Provider} interface.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity, verifySignature } from '@p2p-ai/identity'
 *
 * const { identity, created } = await loadOrCreateIdentity('/var/lib/p2p-ai/identity.json')
 * const data = new TextEncoder().encode('hello')
 * const signature = identity.sign(data)
 * verifySignature(identity.publicKey, data, signature) // true
 * ```
 *
 * @packageDocumentation
 */

export {
  KEY_DIR_MODE,
  KEY_FILE_FORMAT,
  KEY_FILE_MODE,
  KEY_FILE_VERSION,
  PUBLIC_KEY_LENGTH,
  SEED_LENGTH,
  SIGNATURE_LENGTH,
} from './constants.js'
export { defaultEd25519, type Ed25519Provider, nobleEd25519, nodeEd25519 } from './ed25519.js'
export {
  InvalidDataError,
  InvalidPeerIdError,
  InvalidPublicKeyError,
  InvalidSeedError,
  KeyFileBadLengthError,
  KeyFileCorruptError,
  KeyFileError,
  KeyFileExistsError,
  KeyFileInsecurePermissionsError,
  KeyFileMismatchError,
  KeyFileNotFoundError,
  KeyFileUnreadableError,
  KeyFileUnsupportedVersionError,
  KeyFileWriteError,
  KeyFileWrongTypeError,
  UnsupportedRuntimeError,
} from './errors.js'
export {
  generateIdentity,
  type Identity,
  type IdentityInit,
  identityFromSeed,
  verifySignature,
} from './identity.js'
export { loadIdentity, loadOrCreateIdentity, saveIdentity } from './key-file.js'
export type { KeyFileV1 } from './key-file-format.js'
export { isPeerId, peerIdFromPublicKey, publicKeyFromPeerId } from './peer-id.js'
