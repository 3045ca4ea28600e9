/**
 * Moves the weights of an ONNX model out of the graph into an external data file, the layout ONNX
 * uses for models over 2 GB. ONNX Runtime memory-maps external data instead of copying it out of
 * the parsed protobuf, so loading such a model peaks near 0.5× its size instead of ~1.5×.
 *
 * Only `ModelProto.graph.initializer[].raw_data` moves; every other field is copied byte for byte.
 * The rewrite reads the source through positional reads, so a file is never held in memory whole.
 */
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Name of the external data file next to the rewritten graph. */
const DATA_FILE = 'model.onnx_data'
/** Initializers smaller than this stay inline: mapping tiny tensors saves nothing. */
const DEFAULT_MIN_EXTERNAL_BYTES = 1024
/** External tensors start at multiples of this, so each can be mapped on its own page. */
const ALIGNMENT = 4096
/** Copy buffer when moving weights from file to file. */
const COPY_CHUNK = 1024 * 1024

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_BYTES = 2
const WIRE_FIXED32 = 5

// Field numbers from onnx/onnx.proto.
const MODEL_GRAPH = 7
const GRAPH_INITIALIZER = 5
const TENSOR_RAW_DATA = 9
const TENSOR_EXTERNAL_DATA = 13
const TENSOR_DATA_LOCATION = 14
const DATA_LOCATION_EXTERNAL = 1

/** Random access to the bytes of a model: a file or a buffer. */
interface Source {
  readonly size: number
  read(position: number, length: number): Promise<Uint8Array>
}

/** A byte range of the source that goes to the external data file at `offset`. */
interface Segment {
  readonly source: number
  readonly length: number
  readonly offset: number
}

/** The plan of a rewrite: the new graph file and where each moved tensor goes. */
interface Plan {
  readonly rewritten: boolean
  readonly model: Uint8Array
  readonly segments: readonly Segment[]
}

interface Field {
  readonly number: number
  readonly wire: number
  /** Whole field, tag included. */
  readonly start: number
  readonly end: number
  /** Payload of a length-delimited field. */
  readonly valueStart: number
}

function parseVarint(buf: Uint8Array, at: number): [value: number, length: number] {
  let value = 0
  for (let i = 0; i < 10; i++) {
    const b = buf[at + i]
    if (b === undefined) throw new RangeError('truncated varint')
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return [value, i + 1]
  }
  throw new RangeError('varint too long')
}

async function* fields(src: Source, start: number, end: number): AsyncGenerator<Field> {
  let pos = start
  while (pos < end) {
    // A tag and a length take at most 20 bytes: one small read gives both.
    const head = await src.read(pos, Math.min(20, end - pos))
    const [tag, tagLength] = parseVarint(head, 0)
    const wire = tag % 8
    let valueStart = pos + tagLength
    let next: number
    switch (wire) {
      case WIRE_VARINT:
        next = valueStart + parseVarint(head, tagLength)[1]
        break
      case WIRE_FIXED64:
        next = valueStart + 8
        break
      case WIRE_FIXED32:
        next = valueStart + 4
        break
      case WIRE_BYTES: {
        const [length, lengthLength] = parseVarint(head, tagLength)
        valueStart += lengthLength
        next = valueStart + length
        break
      }
      default:
        throw new RangeError(`unsupported protobuf wire type ${wire}`)
    }
    if (next > end) throw new RangeError('truncated protobuf field')
    yield { number: Math.floor(tag / 8), wire, start: pos, end: next, valueStart }
    pos = next
  }
}

function varint(value: number): Uint8Array {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}

function bytesField(number: number, payload: readonly Uint8Array[]): Uint8Array[] {
  const length = payload.reduce((n, p) => n + p.length, 0)
  return [varint(number * 8 + WIRE_BYTES), varint(length), ...payload]
}

function stringEntry(key: string, value: string): Uint8Array[] {
  const enc = new TextEncoder()
  return bytesField(TENSOR_EXTERNAL_DATA, [
    ...bytesField(1, [enc.encode(key)]),
    ...bytesField(2, [enc.encode(value)]),
  ])
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

async function plan(src: Source, location: string, minBytes: number): Promise<Plan> {
  const segments: Segment[] = []
  let offset = 0
  // A model that already has external data points at files next to it; moving its graph elsewhere
  // would break those paths, so it is left untouched.
  let alreadyExternal = false

  const tensor = async (start: number, end: number): Promise<Uint8Array[]> => {
    let raw: Field | undefined
    for await (const f of fields(src, start, end)) {
      if (f.number === TENSOR_RAW_DATA && f.wire === WIRE_BYTES) raw = f
      if (f.number === TENSOR_DATA_LOCATION || f.number === TENSOR_EXTERNAL_DATA) alreadyExternal = true
    }
    if (alreadyExternal || raw === undefined || raw.end - raw.valueStart < minBytes) {
      return [await src.read(start, end - start)]
    }
    const length = raw.end - raw.valueStart
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT
    segments.push({ source: raw.valueStart, length, offset })
    const parts = [
      await src.read(start, raw.start - start),
      await src.read(raw.end, end - raw.end),
      ...stringEntry('location', location),
      ...stringEntry('offset', String(offset)),
      ...stringEntry('length', String(length)),
      varint(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT),
      varint(DATA_LOCATION_EXTERNAL),
    ]
    offset += length
    return parts
  }

  const graph = async (start: number, end: number): Promise<Uint8Array[]> => {
    const parts: Uint8Array[] = []
    for await (const f of fields(src, start, end)) {
      if (f.number === GRAPH_INITIALIZER && f.wire === WIRE_BYTES) {
        parts.push(...bytesField(GRAPH_INITIALIZER, await tensor(f.valueStart, f.end)))
      } else {
        parts.push(await src.read(f.start, f.end - f.start))
      }
    }
    return parts
  }

  const parts: Uint8Array[] = []
  let sawGraph = false
  for await (const f of fields(src, 0, src.size)) {
    if (f.number === MODEL_GRAPH && f.wire === WIRE_BYTES) {
      sawGraph = true
      parts.push(...bytesField(MODEL_GRAPH, await graph(f.valueStart, f.end)))
    } else {
      parts.push(await src.read(f.start, f.end - f.start))
    }
  }
  if (!sawGraph) throw new RangeError('not an ONNX model: no graph')
  if (alreadyExternal || segments.length === 0)
    return { rewritten: false, model: new Uint8Array(0), segments: [] }
  return { rewritten: true, model: concat(parts), segments }
}

export interface ExternalizedModel {
  /** False when nothing moved: no large initializer, or some were already external. */
  readonly rewritten: boolean
  /** The graph file, weights removed (empty when not rewritten). */
  readonly model: Uint8Array
  /** The external data file, as views into the input in file order (padding included). */
  readonly data: readonly Uint8Array[]
  /** Initializers moved out. */
  readonly tensors: number
}

/**
 * Rewrites `model` (the bytes of an `.onnx` file) so that initializers of at least `minBytes`
 * live in `location`, a file to put next to the graph. Rejects with `RangeError` on bytes that
 * are not an ONNX protobuf.
 */
export async function externalizeWeights(
  model: Uint8Array,
  location: string,
  minBytes = DEFAULT_MIN_EXTERNAL_BYTES,
): Promise<ExternalizedModel> {
  const src: Source = { size: model.length, read: async (pos, len) => model.subarray(pos, pos + len) }
  const p = await plan(src, location, minBytes)
  const data: Uint8Array[] = []
  let end = 0
  for (const s of p.segments) {
    if (s.offset > end) data.push(new Uint8Array(s.offset - end))
    data.push(model.subarray(s.source, s.source + s.length))
    end = s.offset + s.length
  }
  return { rewritten: p.rewritten, model: p.model, data, tensors: p.segments.length }
}

/** A rewritten copy of a model on disk; `remove()` deletes it (idempotent). */
export interface MappedCopy {
  readonly file: string
  remove(): Promise<void>
}

/**
 * Writes a copy of `modelFile` with its weights in an external data file, in a fresh private
 * temporary directory (mode 0700, so no other user can swap the files), reading and writing in
 * 1 MiB chunks. Resolves `undefined` when the model has nothing to move or cannot be rewritten:
 * the caller then loads the original.
 */
export async function writeMappedCopy(modelFile: string): Promise<MappedCopy | undefined> {
  const input = await open(modelFile, 'r')
  let dir: string | undefined
  const remove = async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
  try {
    const read = async (position: number, length: number): Promise<Uint8Array> => {
      const buf = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await input.read(buf, done, length - done, position + done)
        if (bytesRead === 0) throw new RangeError('model file ended early')
        done += bytesRead
      }
      return buf
    }
    let p: Plan
    try {
      p = await plan({ size: (await input.stat()).size, read }, DATA_FILE, DEFAULT_MIN_EXTERNAL_BYTES)
    } catch {
      return undefined
    }
    if (!p.rewritten) return undefined
    dir = await mkdtemp(join(tmpdir(), 'p2p-ai-mapped-'))
    const output = await open(join(dir, DATA_FILE), 'w')
    try {
      const chunk = Buffer.allocUnsafe(COPY_CHUNK)
      for (const s of p.segments) {
        for (let done = 0; done < s.length; ) {
          const n = Math.min(COPY_CHUNK, s.length - done)
          const { bytesRead } = await input.read(chunk, 0, n, s.source + done)
          if (bytesRead === 0) throw new RangeError('model file ended early')
          await output.write(chunk, 0, bytesRead, s.offset + done)
          done += bytesRead
        }
      }
    } finally {
      await output.close()
    }
    await writeFile(join(dir, 'model.onnx'), p.model)
    return { file: join(dir, 'model.onnx'), remove }
  } catch {
    await remove()
    return undefined
  } finally {
    await input.close()
  }
}
