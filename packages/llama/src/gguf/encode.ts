// A GGUF v3 writer: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
//
//   magic "GGUF" · version u32 · tensor count u64 · metadata count u64
//   metadata: key (u64 length + UTF-8) · value type u32 · value
//   tensor infos: name · dimensions u32 · sizes u64[] (innermost first) · ggml type u32 · offset u64
//   padding to the alignment · tensor data, each tensor at an aligned offset
//
// Everything is little-endian. Enough of the format to write models llama.cpp loads: all
// metadata value types, and tensors in F32, F16 or Q8_0.

/** GGUF metadata value types, by their numbers in the format. */
const VALUE_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const

/** The type of a metadata value or of an array's items. */
export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE, 'array'>

/** A scalar as written: numbers for the small types, bigint or number for the 64-bit integers. */
export type GgufScalar = number | bigint | boolean | string

/** One metadata value, with its GGUF type spelled out (the format has no inferred types). */
export type GgufMetadataValue =
  | { readonly type: GgufScalarType; readonly value: GgufScalar }
  | { readonly type: 'array'; readonly itemType: GgufScalarType; readonly values: ArrayLike<GgufScalar> }

/** Tensor element types this writer encodes, named as ggml names them. */
export type GgufTensorType = 'F32' | 'F16' | 'Q8_0'

/** ggml type numbers (ggml.h `enum ggml_type`). */
const GGML_TYPE: Readonly<Record<GgufTensorType, number>> = { F32: 0, F16: 1, Q8_0: 8 }

/** Q8_0: blocks of 32 values, each an f16 scale and 32 int8s. */
const Q8_0_BLOCK = 32
const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK

/** A tensor to write: `shape` innermost dimension first (ggml's `ne`), data row-major over it. */
export interface GgufTensor {
  readonly name: string
  readonly shape: readonly number[]
  readonly type: GgufTensorType
  readonly data: Float32Array
}

export interface GgufFile {
  readonly metadata: Readonly<Record<string, GgufMetadataValue>>
  readonly tensors: readonly GgufTensor[]
  /** Alignment of the tensor data; written as `general.alignment` when not 32. @default 32 */
  readonly alignment?: number
}

const MAGIC = 0x46554747 // "GGUF" read as a little-endian u32
const VERSION = 3
const DEFAULT_ALIGNMENT = 32

/** Helper constructors, so metadata reads `{ 'llama.block_count': gguf.u32(2) }`. */
export const gguf = {
  u32: (value: number): GgufMetadataValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufMetadataValue => ({ type: 'int32', value }),
  f32: (value: number): GgufMetadataValue => ({ type: 'float32', value }),
  bool: (value: boolean): GgufMetadataValue => ({ type: 'bool', value }),
  string: (value: string): GgufMetadataValue => ({ type: 'string', value }),
  array: (itemType: GgufScalarType, values: ArrayLike<GgufScalar>): GgufMetadataValue => ({
    type: 'array',
    itemType,
    values,
  }),
}

/** Growable little-endian byte buffer. */
class Writer {
  #buf = new Uint8Array(1 << 16)
  #view = new DataView(this.#buf.buffer)
  length = 0

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.length))
    this.#buf = next
    this.#view = new DataView(next.buffer)
  }

  /** Writes `size` bytes with one of DataView's setters, little-endian. */
  #put(size: number, write: (view: DataView, at: number) => void): void {
    this.#reserve(size)
    write(this.#view, this.length)
    this.length += size
  }

  u8 = (v: number): void => this.#put(1, (d, at) => d.setUint8(at, v))
  i8 = (v: number): void => this.#put(1, (d, at) => d.setInt8(at, v))
  u16 = (v: number): void => this.#put(2, (d, at) => d.setUint16(at, v, true))
  i16 = (v: number): void => this.#put(2, (d, at) => d.setInt16(at, v, true))
  u32 = (v: number): void => this.#put(4, (d, at) => d.setUint32(at, v, true))
  i32 = (v: number): void => this.#put(4, (d, at) => d.setInt32(at, v, true))
  f32 = (v: number): void => this.#put(4, (d, at) => d.setFloat32(at, v, true))
  f64 = (v: number): void => this.#put(8, (d, at) => d.setFloat64(at, v, true))
  u64 = (v: number | bigint): void => this.#put(8, (d, at) => d.setBigUint64(at, BigInt(v), true))
  i64 = (v: number | bigint): void => this.#put(8, (d, at) => d.setBigInt64(at, BigInt(v), true))

  bytes(b: Uint8Array): void {
    this.#reserve(b.length)
    this.#buf.set(b, this.length)
    this.length += b.length
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s)
    this.u64(b.length)
    this.bytes(b)
  }
  pad(alignment: number): void {
    const rest = this.length % alignment
    if (rest !== 0) this.bytes(new Uint8Array(alignment - rest))
  }
  finish(): Uint8Array {
    return this.#buf.slice(0, this.length)
  }
}

/** Writers of the numeric scalar types. */
const NUMBER_WRITERS: Readonly<
  Record<Exclude<GgufScalarType, 'bool' | 'string'>, (w: Writer, v: number | bigint) => void>
> = {
  uint8: (w, v) => w.u8(Number(v)),
  int8: (w, v) => w.i8(Number(v)),
  uint16: (w, v) => w.u16(Number(v)),
  int16: (w, v) => w.i16(Number(v)),
  uint32: (w, v) => w.u32(Number(v)),
  int32: (w, v) => w.i32(Number(v)),
  float32: (w, v) => w.f32(Number(v)),
  float64: (w, v) => w.f64(Number(v)),
  uint64: (w, v) => w.u64(v),
  int64: (w, v) => w.i64(v),
}

function writeScalar(w: Writer, type: GgufScalarType, value: GgufScalar, key: string): void {
  if (type === 'string') {
    if (typeof value !== 'string') throw new TypeError(`gguf: ${key} must be a string`)
    w.string(value)
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') throw new TypeError(`gguf: ${key} must be a boolean`)
    w.u8(value ? 1 : 0)
  } else {
    const is64 = type === 'uint64' || type === 'int64'
    if (!(typeof value === 'number' && Number.isFinite(value)) && !(is64 && typeof value === 'bigint')) {
      throw new TypeError(`gguf: ${key} must be a finite number`)
    }
    NUMBER_WRITERS[type](w, value as number | bigint)
  }
}

/** Bytes of one tensor's data in its type. */
function tensorBytes(t: GgufTensor): number {
  const elements = t.shape.reduce((a, b) => a * b, 1)
  switch (t.type) {
    case 'F32':
      return elements * 4
    case 'F16':
      return elements * 2
    case 'Q8_0':
      return (elements / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES
  }
}

/** IEEE 754 binary16 bits of a number, rounded to nearest even (what ggml's converters do). */
export function float16Bits(value: number): number {
  const f32 = new Float32Array([value])
  const x = new Uint32Array(f32.buffer)[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let m = mant >>> shift
    const rest = mant & ((1 << shift) - 1)
    if (rest > half || (rest === half && (m & 1) === 1)) m++
    return sign | m
  }
  let m = mant >>> 13
  let ee = e
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++
    if (m === 0x400) {
      m = 0
      ee++
      if (ee >= 0x1f) return sign | 0x7c00
    }
  }
  return sign | (ee << 10) | m
}

/** A tensor's data in its type, little-endian: one pass over a preallocated buffer. */
function encodeTensorData(t: GgufTensor): Uint8Array {
  const { data } = t
  const out = new Uint8Array(tensorBytes(t))
  const view = new DataView(out.buffer)
  switch (t.type) {
    case 'F32':
      for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true)
      break
    case 'F16':
      for (let i = 0; i < data.length; i++) view.setUint16(i * 2, float16Bits(data[i]!), true)
      break
    case 'Q8_0': {
      const q = new Int8Array(out.buffer)
      // ggml's quantize_row_q8_0: d = max|x| / 127 per block, q = round(x / d).
      for (let b = 0, at = 0; b < data.length; b += Q8_0_BLOCK, at += Q8_0_BLOCK_BYTES) {
        let amax = 0
        for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(data[b + i]!))
        const d = amax / 127
        const inv = d === 0 ? 0 : 1 / d
        view.setUint16(at, float16Bits(d), true)
        for (let i = 0; i < Q8_0_BLOCK; i++) q[at + 2 + i] = Math.round(data[b + i]! * inv)
      }
      break
    }
  }
  return out
}

function checkTensor(t: GgufTensor): void {
  if (t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new RangeError(`gguf: tensor ${t.name} has an invalid shape [${t.shape.join(', ')}]`)
  }
  const elements = t.shape.reduce((a, b) => a * b, 1)
  if (t.data.length !== elements) {
    throw new RangeError(
      `gguf: tensor ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`,
    )
  }
  if (t.type === 'Q8_0' && t.shape[0]! % Q8_0_BLOCK !== 0) {
    throw new RangeError(`gguf: Q8_0 tensor ${t.name} needs rows of a multiple of ${Q8_0_BLOCK} values`)
  }
}

/** Encodes a GGUF v3 file. */
export function encodeGguf(file: GgufFile): Uint8Array {
  const alignment = file.alignment ?? DEFAULT_ALIGNMENT
  if (!Number.isSafeInteger(alignment) || alignment < 1 || alignment % 8 !== 0) {
    throw new RangeError(`gguf: alignment must be a positive multiple of 8, got ${alignment}`)
  }
  const metadata: Record<string, GgufMetadataValue> = { ...file.metadata }
  if (alignment !== DEFAULT_ALIGNMENT) metadata['general.alignment'] = gguf.u32(alignment)
  for (const t of file.tensors) checkTensor(t)

  const w = new Writer()
  w.u32(MAGIC)
  w.u32(VERSION)
  w.u64(file.tensors.length)
  w.u64(Object.keys(metadata).length)
  for (const [key, value] of Object.entries(metadata)) {
    w.string(key)
    w.u32(VALUE_TYPE[value.type])
    if (value.type === 'array') {
      w.u32(VALUE_TYPE[value.itemType])
      w.u64(value.values.length)
      for (let i = 0; i < value.values.length; i++) writeScalar(w, value.itemType, value.values[i]!, key)
    } else {
      writeScalar(w, value.type, value.value, key)
    }
  }
  let offset = 0
  for (const t of file.tensors) {
    w.string(t.name)
    w.u32(t.shape.length)
    for (const n of t.shape) w.u64(n)
    w.u32(GGML_TYPE[t.type])
    w.u64(offset)
    offset += Math.ceil(tensorBytes(t) / alignment) * alignment
  }
  w.pad(alignment)
  for (const t of file.tensors) {
    w.bytes(encodeTensorData(t))
    w.pad(alignment)
  }
  return w.finish()
}
