/** A seed is not a 32-byte `Uint8Array`. */
export class InvalidSeedError extends Error {
  static readonly code = 'ERR_INVALID_SEED'
  readonly code = InvalidSeedError.code
  override readonly name = 'InvalidSeedError'
}

/** A public key is not a 32-byte `Uint8Array`. */
export class InvalidPublicKeyError extends Error {
  static readonly code = 'ERR_INVALID_PUBLIC_KEY'
  readonly code = InvalidPublicKeyError.code
  override readonly name = 'InvalidPublicKeyError'
}

/** Data to sign is not a `Uint8Array`. */
export class InvalidDataError extends Error {
  static readonly code = 'ERR_INVALID_DATA'
  readonly code = InvalidDataError.code
  override readonly name = 'InvalidDataError'
}

/** A string is not a libp2p peer ID, or not one of an Ed25519 key. */
export class InvalidPeerIdError extends Error {
  static readonly code = 'ERR_INVALID_PEER_ID'
  readonly code = InvalidPeerIdError.code
  override readonly name = 'InvalidPeerIdError'
}

/** Persistence needs `node:fs`, which this runtime (e.g. a browser) lacks. */
export class UnsupportedRuntimeError extends Error {
  static readonly code = 'ERR_UNSUPPORTED_RUNTIME'
  readonly code = UnsupportedRuntimeError.code
  override readonly name = 'UnsupportedRuntimeError'
}

/** Base of every key file error: `path` names the file, the message says what is wrong and how to fix it. */
export abstract class KeyFileError extends Error {
  abstract readonly code: string
  /** The key file concerned, as given by the caller. */
  readonly path: string

  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.path = path
  }
}

/** The key file does not exist. */
export class KeyFileNotFoundError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_NOT_FOUND'
  readonly code = KeyFileNotFoundError.code
  override readonly name = 'KeyFileNotFoundError'
}

/** Saving would overwrite an existing key file, which is never done. */
export class KeyFileExistsError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_EXISTS'
  readonly code = KeyFileExistsError.code
  override readonly name = 'KeyFileExistsError'
}

/** The key file cannot be opened or read: no permission, a directory, a device, an I/O error. */
export class KeyFileUnreadableError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_UNREADABLE'
  readonly code = KeyFileUnreadableError.code
  override readonly name = 'KeyFileUnreadableError'
}

/** The key file or its directory could not be written. */
export class KeyFileWriteError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_WRITE'
  readonly code = KeyFileWriteError.code
  override readonly name = 'KeyFileWriteError'
}

/** The key file can be read or written by group or others (POSIX); it is refused until fixed. */
export class KeyFileInsecurePermissionsError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_INSECURE_PERMISSIONS'
  readonly code = KeyFileInsecurePermissionsError.code
  override readonly name = 'KeyFileInsecurePermissionsError'
}

/** The key file is empty, truncated, not UTF-8 or JSON, too large, or lacks or garbles a field. */
export class KeyFileCorruptError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_CORRUPT'
  readonly code = KeyFileCorruptError.code
  override readonly name = 'KeyFileCorruptError'
}

/** The file is some other kind of key or document: not a p2p-ai identity, or not an Ed25519 key. */
export class KeyFileWrongTypeError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_WRONG_TYPE'
  readonly code = KeyFileWrongTypeError.code
  override readonly name = 'KeyFileWrongTypeError'
}

/** The key file was written in a layout version this package does not know. */
export class KeyFileUnsupportedVersionError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_UNSUPPORTED_VERSION'
  readonly code = KeyFileUnsupportedVersionError.code
  override readonly name = 'KeyFileUnsupportedVersionError'
}

/** The seed or public key in the key file decodes to the wrong number of bytes. */
export class KeyFileBadLengthError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_BAD_LENGTH'
  readonly code = KeyFileBadLengthError.code
  override readonly name = 'KeyFileBadLengthError'
}

/** The public key or peer ID recorded in the key file does not belong to its seed. */
export class KeyFileMismatchError extends KeyFileError {
  static readonly code = 'ERR_KEY_FILE_MISMATCH'
  readonly code = KeyFileMismatchError.code
  override readonly name = 'KeyFileMismatchError'
}
