import { PSK_KEY_BYTES } from './constants.js'
import { InvalidPskError } from './errors.js'

const PSK_TAG = '/key/swarm/psk/1.0.0/'
const PSK_CODEC = '/base16/'

/**
 * A new random pre-shared key for a private network, in the libp2p pnet (and go-ipfs
 * `swarm.key`) format: three text lines, tag, codec and 64 hex digits. Share it with every node of
 * the network through a secure channel; a node without it cannot connect.
 */
export function generatePsk(): Uint8Array {
  const key = crypto.getRandomValues(new Uint8Array(PSK_KEY_BYTES))
  return new TextEncoder().encode(`${PSK_TAG}\n${PSK_CODEC}\n${Buffer.from(key).toString('hex')}`)
}

/**
 * Checks that `psk` is a pnet key. @libp2p/pnet only checks the key length, which lets a file in
 * the wrong format fail later, at the first connection, with a generic error.
 *
 * @throws {InvalidPskError}
 */
export function checkPsk(psk: unknown): Uint8Array {
  if (!(psk instanceof Uint8Array)) {
    throw new InvalidPskError('psk must be a Uint8Array in the libp2p pnet format (see generatePsk())')
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(psk)
  } catch {
    throw new InvalidPskError('psk is not UTF-8 text in the libp2p pnet format (see generatePsk())')
  }
  const [tag, codec, hex, ...rest] = text.split(/\r\n|\r|\n/)
  if (tag !== PSK_TAG) {
    throw new InvalidPskError(`psk must start with the line ${PSK_TAG}`)
  }
  if (codec !== PSK_CODEC) {
    throw new InvalidPskError(`psk codec must be ${PSK_CODEC}; other pnet codecs are not supported`)
  }
  if (hex === undefined || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== PSK_KEY_BYTES * 2) {
    throw new InvalidPskError(`psk key must be ${PSK_KEY_BYTES * 2} hexadecimal digits`)
  }
  if (rest.some((line) => line.trim() !== '')) {
    throw new InvalidPskError('psk has unexpected content after the key line')
  }
  return psk
}
