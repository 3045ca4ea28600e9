import { AUTO_BASE64_THRESHOLD, MAX_TENSOR_ELEMENTS } from '../constants.js'
import { InvalidTensorError } from '../errors.js'
import type { InferenceSession, OrtModule, OrtTensor } from '../runtime/ort.js'

/** Element types a JSON tensor may have (ONNX Runtime's names). */
export const TENSOR_DTYPES = [
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
  'string',
] as const
export type TensorDtype = (typeof TENSOR_DTYPES)[number]

/**
 * A tensor as JSON. `data` is either the elements in row-major order (numbers; booleans for
 * `bool`; strings for `string`; decimal strings are also accepted for `int64`/`uint64` beyond 2^53)
 * or a base64 string of the raw little-endian bytes, which is ~3× smaller and exact. `float16`
 * travels as base64 only.
 */
export interface JsonTensor {
  readonly dtype: TensorDtype
  readonly dims: readonly number[]
  readonly data: readonly (number | string | boolean)[] | string
}

/** How output tensors are encoded: numbers, base64, or base64 above 1024 elements. */
export type TensorEncoding = 'auto' | 'json' | 'base64'

type Typed =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} as const

const INT_RANGES: Partial<Record<TensorDtype, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const DECIMAL_RE = /^-?\d{1,20}$/

function fail(name: string, why: string): never {
  throw new InvalidTensorError(`input ${JSON.stringify(name)}: ${why}`)
}

function fmtShape(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'string' ? d : String(d))).join(', ')}]`
}

/**
 * Checks every given tensor against the model's input metadata — names, dtypes, ranks, fixed
 * dimensions, and symbolic dimensions that must agree across inputs (`batch_size` of `input_ids`
 * and `attention_mask`) — and converts them to ONNX Runtime tensors.
 */
export function decodeInputs(
  ort: OrtModule,
  session: InferenceSession,
  inputs: Readonly<Record<string, JsonTensor>>,
): Record<string, OrtTensor> {
  const metadata = new Map(session.inputMetadata.map((m) => [m.name, m]))
  for (const name of Object.keys(inputs)) {
    if (!metadata.has(name))
      fail(name, `the model has no such input (inputs: ${session.inputNames.join(', ')})`)
  }
  const symbols = new Map<string, { size: number; input: string }>()
  const feeds: Record<string, OrtTensor> = {}
  for (const meta of session.inputMetadata) {
    const tensor = inputs[meta.name]
    if (tensor === undefined) fail(meta.name, 'missing; the model requires it')
    if (!meta.isTensor)
      fail(meta.name, 'the model takes a non-tensor value here, which this task cannot pass')
    checkStructure(meta.name, tensor)
    if (tensor.dtype !== meta.type) fail(meta.name, `expected dtype ${meta.type}, got ${tensor.dtype}`)
    if (tensor.dims.length !== meta.shape.length) {
      fail(meta.name, `expected shape ${fmtShape(meta.shape)}, got [${tensor.dims.join(', ')}]`)
    }
    meta.shape.forEach((want, axis) => {
      const got = tensor.dims[axis]!
      if (typeof want === 'number') {
        if (want !== got) {
          fail(
            meta.name,
            `expected shape ${fmtShape(meta.shape)}, got [${tensor.dims.join(', ')}] (axis ${axis})`,
          )
        }
      } else if (want !== '') {
        const seen = symbols.get(want)
        if (seen === undefined) symbols.set(want, { size: got, input: meta.name })
        else if (seen.size !== got) {
          fail(
            meta.name,
            `dimension ${axis} (${want}) is ${got} but input ${JSON.stringify(seen.input)} has ${seen.size}`,
          )
        }
      }
    })
    feeds[meta.name] = toOrtTensor(ort, meta.name, tensor)
  }
  return feeds
}

function checkStructure(name: string, t: JsonTensor): void {
  if (!TENSOR_DTYPES.includes(t.dtype)) fail(name, `unknown dtype ${JSON.stringify(t.dtype)}`)
  if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(name, 'dims must be non-negative integers')
  }
}

/** Converts one JSON tensor (already checked against metadata) to an ONNX Runtime tensor. */
export function toOrtTensor(ort: OrtModule, name: string, t: JsonTensor): OrtTensor {
  checkStructure(name, t)
  const size = t.dims.reduce((a, b) => a * b, 1)
  if (size > MAX_TENSOR_ELEMENTS)
    fail(name, `${size} elements is more than the limit of ${MAX_TENSOR_ELEMENTS}`)
  const dims = [...t.dims]
  if (t.dtype === 'string') {
    if (typeof t.data === 'string' || !t.data.every((v) => typeof v === 'string')) {
      fail(name, 'a string tensor takes an array of strings')
    }
    if (t.data.length !== size)
      fail(name, `dims [${dims.join(', ')}] need ${size} elements, got ${t.data.length}`)
    return new ort.Tensor('string', t.data as string[], dims)
  }
  const Ctor = ARRAYS[t.dtype]
  if (typeof t.data === 'string') {
    if (!BASE64_RE.test(t.data)) fail(name, 'data is a string but not valid base64')
    const bytes = Buffer.from(t.data, 'base64')
    const want = size * Ctor.BYTES_PER_ELEMENT
    if (bytes.length !== want) {
      fail(
        name,
        `dims [${dims.join(', ')}] of ${t.dtype} need ${want} bytes, base64 data has ${bytes.length}`,
      )
    }
    // Copy into a fresh, aligned buffer: Buffer.from may return an unaligned slice of a pool.
    const out = new Ctor(size)
    new Uint8Array(out.buffer).set(bytes)
    return new ort.Tensor(t.dtype, out as never, dims)
  }
  if (t.dtype === 'float16') fail(name, 'float16 data must be base64 (raw little-endian halves)')
  if (t.data.length !== size)
    fail(name, `dims [${dims.join(', ')}] need ${size} elements, got ${t.data.length}`)
  return new ort.Tensor(t.dtype, fillArray(name, t.dtype, t.data, new Ctor(size)) as never, dims)
}

function fillArray(name: string, dtype: TensorDtype, data: readonly unknown[], out: Typed): Typed {
  const range = INT_RANGES[dtype]
  for (let i = 0; i < data.length; i++) {
    const v = data[i]
    const bad = (): never => fail(name, `element ${i} (${JSON.stringify(v)}) is not a valid ${dtype}`)
    if (dtype === 'bool') {
      if (v === true || v === 1) out[i] = 1
      else if (v === false || v === 0) out[i] = 0
      else bad()
    } else if (dtype === 'int64' || dtype === 'uint64') {
      let big: bigint
      if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v)
      else if (typeof v === 'string' && DECIMAL_RE.test(v)) big = BigInt(v)
      else return bad()
      const fits = dtype === 'int64' ? BigInt.asIntN(64, big) === big : BigInt.asUintN(64, big) === big
      if (!fits) bad()
      out[i] = big
    } else if (typeof v !== 'number') {
      bad()
    } else if (range !== undefined) {
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) bad()
      out[i] = v
    } else {
      out[i] = v as number
    }
  }
  return out
}

/** Encodes an ONNX Runtime output tensor as JSON. */
export function fromOrtTensor(tensor: OrtTensor, encoding: TensorEncoding): JsonTensor {
  const dtype = tensor.type as TensorDtype
  const dims = [...tensor.dims]
  const data = tensor.data
  if (dtype === 'string' || !ArrayBuffer.isView(data)) {
    return { dtype: 'string', dims, data: [...(data as string[])] }
  }
  const typed = data as Typed
  const wide = dtype === 'int64' || dtype === 'uint64'
  const unsafe =
    wide &&
    (typed as BigInt64Array).some(
      (v) => v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER),
    )
  const base64 =
    encoding === 'base64' ||
    dtype === 'float16' ||
    (encoding === 'auto' && (typed.length > AUTO_BASE64_THRESHOLD || unsafe))
  if (base64) {
    return {
      dtype,
      dims,
      data: Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64'),
    }
  }
  if (wide) {
    // Exact either way: numbers while every value is a safe integer, decimal strings otherwise.
    const values = Array.from(typed as BigInt64Array)
    return { dtype, dims, data: unsafe ? values.map(String) : values.map(Number) }
  }
  if (dtype === 'bool') return { dtype, dims, data: Array.from(typed as Uint8Array, (v) => v !== 0) }
  return { dtype, dims, data: Array.from(typed as Float32Array) }
}
