/**
 * The private network key of a node, from its configuration: `network.psk` (64 hex digits) or
 * `network.pskFile` (a libp2p pnet key file, as `generatePsk()` or go-ipfs write it, or a file
 * holding 64 hex digits). The transport checks the key's format.
 */
import { readFile } from 'node:fs/promises'
import { InvalidPskError } from '@p2p-ai/transport'
import type { NodeConfig } from './config/types.js'

const HEX_KEY = /^[0-9a-fA-F]{64}$/
/** Largest key file read: a pnet key file is under 100 bytes. */
const MAX_PSK_FILE_BYTES = 4096

/** The key in the libp2p pnet format, for `createTransport({ psk })`. */
export function pnetKey(hex: string): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex.toLowerCase()}`)
}

/**
 * The configured private network key, or undefined for a public network.
 *
 * @throws {InvalidPskError} (`ERR_INVALID_PSK`) when the key file cannot be read
 */
export async function pskFromConfig(network: NodeConfig['network']): Promise<Uint8Array | undefined> {
  if (network.psk !== '') return pnetKey(network.psk)
  if (network.pskFile === '') return undefined
  let bytes: Buffer
  try {
    bytes = await readFile(network.pskFile)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const reason =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message
    throw new InvalidPskError(`cannot read network.pskFile ${network.pskFile}: ${reason}`, { cause: err })
  }
  if (bytes.length > MAX_PSK_FILE_BYTES) {
    throw new InvalidPskError(`network.pskFile ${network.pskFile} is ${bytes.length} bytes: not a key file`)
  }
  const text = bytes.toString('utf8').trim()
  return HEX_KEY.test(text) ? pnetKey(text) : new Uint8Array(bytes)
}
