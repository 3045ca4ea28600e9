/**
 * A minimal ONNX protobuf writer: enough of `onnx.proto` (ModelProto, GraphProto, NodeProto,
 * TensorProto, ValueInfoProto) to build inference graphs in code. The engine uses it for synthetic
 * models (tests, benchmarks and demos on machines that cannot download a real one).
 *
 * Field numbers follow onnx/onnx.proto (IR version 8).
 */

/** Element types the writer can store, as ONNX Runtime names them. */
export type OnnxElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool'

const ELEMENT_TYPE_CODES: Record<OnnxElementType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
}

/** A graph input or output: name, element type and shape (numbers are fixed, strings symbolic). */
export interface OnnxValueInfo {
  readonly name: string
  readonly type: OnnxElementType
  readonly shape: readonly (number | string)[]
}

/** A constant tensor stored in the graph (weights, shape constants). */
export interface OnnxInitializer {
  readonly name: string
  readonly type: OnnxElementType
  readonly dims: readonly number[]
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array
}

/** A node attribute, tagged by kind because ONNX distinguishes ints from floats. */
export type OnnxAttribute =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }

export interface OnnxNode {
  readonly op: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly name?: string
  readonly attributes?: Readonly<Record<string, OnnxAttribute>>
}

export interface OnnxGraph {
  readonly name: string
  readonly inputs: readonly OnnxValueInfo[]
  readonly outputs: readonly OnnxValueInfo[]
  readonly nodes: readonly OnnxNode[]
  readonly initializers: readonly OnnxInitializer[]
  /** Default-domain opset. @default 17 */
  readonly opset?: number
  readonly producer?: string
}

const IR_VERSION = 8
const DEFAULT_OPSET = 17

const WIRE_VARINT = 0
const WIRE_FIXED32 = 5
const WIRE_BYTES = 2

/** Accumulates encoded parts and copies them into one buffer only at the end. */
class ProtoWriter {
  readonly parts: Uint8Array[] = []
  length = 0

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes)
    this.length += bytes.length
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value))
    const out: number[] = []
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80)
      v >>= 7n
    }
    out.push(Number(v))
    this.push(Uint8Array.from(out))
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire)
  }

  int(field: number, value: number | bigint): void {
    this.tag(field, WIRE_VARINT)
    this.varint(value)
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32)
    const b = new Uint8Array(4)
    new DataView(b.buffer).setFloat32(0, value, true)
    this.push(b)
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_BYTES)
    this.varint(value.length)
    this.push(value)
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value))
  }

  message(field: number, build: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter()
    build(inner)
    this.tag(field, WIRE_BYTES)
    this.varint(inner.length)
    for (const p of inner.parts) this.push(p)
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const p of this.parts) {
      out.set(p, offset)
      offset += p.length
    }
    return out
  }
}

function valueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name)
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ELEMENT_TYPE_CODES[v.type])
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => {
            if (typeof d === 'number') dim.int(1, d)
            else dim.string(2, d)
          })
        }
      })
    }),
  )
}

function attribute(w: ProtoWriter, name: string, a: OnnxAttribute): void {
  w.string(1, name)
  // AttributeProto.type: FLOAT=1, INT=2, STRING=3, FLOATS=6, INTS=7
  if ('f' in a) {
    w.float(2, a.f)
    w.int(20, 1)
  } else if ('i' in a) {
    w.int(3, a.i)
    w.int(20, 2)
  } else if ('s' in a) {
    w.string(4, a.s)
    w.int(20, 3)
  } else if ('floats' in a) {
    for (const f of a.floats) w.float(7, f)
    w.int(20, 6)
  } else {
    for (const i of a.ints) w.int(8, i)
    w.int(20, 7)
  }
}

function initializer(w: ProtoWriter, t: OnnxInitializer): void {
  const expected = t.dims.reduce((a, b) => a * b, 1)
  if (t.data.length !== expected) {
    throw new RangeError(`initializer ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`)
  }
  for (const d of t.dims) w.int(1, d)
  w.int(2, ELEMENT_TYPE_CODES[t.type])
  w.string(8, t.name)
  // raw_data is little-endian; every platform Node supports in practice is.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))
}

/** Encodes a graph as an ONNX model file (the bytes of a `.onnx`). */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const w = new ProtoWriter()
  w.int(1, IR_VERSION)
  w.string(2, graph.producer ?? '@p2p-ai/engine')
  w.message(7, (g) => {
    graph.nodes.forEach((n, index) => {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i)
        for (const o of n.outputs) node.string(2, o)
        node.string(3, n.name ?? `${n.op}_${index}`)
        node.string(4, n.op)
        for (const [name, a] of Object.entries(n.attributes ?? {}))
          node.message(5, (m) => attribute(m, name, a))
      })
    })
    g.string(2, graph.name)
    for (const t of graph.initializers) g.message(5, (m) => initializer(m, t))
    for (const v of graph.inputs) g.message(11, (m) => valueInfo(m, v))
    for (const v of graph.outputs) g.message(12, (m) => valueInfo(m, v))
  })
  w.message(8, (opset) => {
    opset.string(1, '')
    opset.int(2, graph.opset ?? DEFAULT_OPSET)
  })
  return w.finish()
}
