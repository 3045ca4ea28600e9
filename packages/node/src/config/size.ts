/**
 * Sizes in the configuration: `4GiB`, `512MB`, `1.5G`, a plain number of bytes, or a share of
 * something the machine has (`50%`: of its RAM for `limits.memory`, of the data directory's disk
 * for `limits.disk`).
 */

/** A size as configured: bytes, or a percentage of a total known at run time. */
export type Size = { readonly bytes: number } | { readonly percent: number }

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i
const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/

/** Parses a size; undefined when the text is not one (or is zero). */
export function parseSize(text: string | number): Size | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text > 0 ? { bytes: text } : undefined
  const trimmed = text.trim()
  const percent = PERCENT.exec(trimmed)
  if (percent !== null) {
    const value = Number(percent[1])
    return value > 0 && value <= 100 ? { percent: value } : undefined
  }
  const size = SIZE.exec(trimmed)
  if (size === null) return undefined
  const unit = UNITS[(size[2] ?? '').toLowerCase()]
  if (unit === undefined) return undefined
  const bytes = Math.floor(Number(size[1]) * unit)
  return Number.isSafeInteger(bytes) && bytes > 0 ? { bytes } : undefined
}

/** The bytes a size stands for, given the total a percentage is of. */
export function sizeBytes(size: Size, total: number): number {
  return 'bytes' in size ? size.bytes : Math.floor((total * size.percent) / 100)
}
