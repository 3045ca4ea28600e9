/** Length of an Ed25519 seed (the private key as RFC 8032 defines it), in bytes. */
export const SEED_LENGTH = 32
/** Length of an Ed25519 public key, in bytes. */
export const PUBLIC_KEY_LENGTH = 32
/** Length of an Ed25519 signature, in bytes. */
export const SIGNATURE_LENGTH = 64

/**
 * libp2p `PublicKey` protobuf header for Ed25519: field 1 (KeyType) = 1 (Ed25519), then field 2
 * (Data) of length 32. libp2p peer IDs hash exactly these bytes followed by the key.
 */
export const PUBLIC_KEY_PROTOBUF_PREFIX: readonly number[] = [0x08, 0x01, 0x12, 0x20]
/** libp2p `PrivateKey` protobuf header for Ed25519: type 1, then 64 bytes of data (seed ‖ public key). */
export const PRIVATE_KEY_PROTOBUF_PREFIX: readonly number[] = [0x08, 0x01, 0x12, 0x40]
/** Identity multihash (code 0x00) of a 36-byte digest: keys this small are inlined, not hashed. */
export const IDENTITY_MULTIHASH_PREFIX: readonly number[] = [0x00, 0x24]
/** Decoded length of an Ed25519 peer ID: multihash header + protobuf header + key. */
export const PEER_ID_BYTES = 2 + 4 + PUBLIC_KEY_LENGTH
/** Longest string `publicKeyFromPeerId` will try to decode; real Ed25519 peer IDs are 52 characters. */
export const MAX_PEER_ID_LENGTH = 128

/** Peer IDs whose decoded public key `publicKeyFromPeerId` keeps (least recently used evicted). */
export const PEER_ID_CACHE_SIZE = 1024
/** Public keys whose node:crypto `KeyObject` is kept for verification (least recently used evicted). */
export const PUBLIC_KEY_CACHE_SIZE = 1024

/** Value of the key file's `format` field. */
export const KEY_FILE_FORMAT = 'p2p-ai-identity'
/** Version of the key file layout written by this package. */
export const KEY_FILE_VERSION = 1
/** Key files larger than this are rejected unread (a real one is about 300 bytes). */
export const MAX_KEY_FILE_BYTES = 64 * 1024
/** Mode of a new key file: read/write for the owner only. */
export const KEY_FILE_MODE = 0o600
/** Mode of directories created for a key file: owner only. */
export const KEY_DIR_MODE = 0o700
