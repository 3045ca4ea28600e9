/**
 * Unsigned LEB128 varints as the multiformats unsigned-varint spec defines them: 7 bits per
 * byte, least significant group first, high bit set on every byte but the last, minimal
 * encoding, at most 9 bytes. Only the encoder lives here; the decoder is inlined in the frame
 * decoder's state machine so that a prefix may straddle chunks.
 */

/** Bytes needed to encode `value` (a non-negative safe integer). */
export function varintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    length++
  }
  return length
}

/** Writes `value` at `offset` and returns the offset after it. */
export function writeVarint(value: number, target: Uint8Array, offset: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  target[offset++] = value
  return offset
}
