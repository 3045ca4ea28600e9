// The GGUF writer is checked against an independent reader, node-llama-cpp's own GGUF parser, and
// the synthetic model against llama.cpp itself (in generate.test.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GgmlType, readGgufFileInfo } from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeGguf, float16Bits, gguf } from '../src/gguf/encode.js'
import { CHATML_TEMPLATE, syntheticLlamaModel } from '../src/gguf/synthetic.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-gguf-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function readBack(bytes: Uint8Array, name: string) {
  const path = join(dir, name)
  await writeFile(path, bytes)
  return readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false })
}

describe('encodeGguf', () => {
  it('writes a GGUF v3 header: magic, version, tensor and metadata counts', () => {
    const bytes = encodeGguf({ metadata: { 'general.architecture': gguf.string('llama') }, tensors: [] })
    const view = new DataView(bytes.buffer, bytes.byteOffset)
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('GGUF')
    expect(view.getUint32(4, true)).toBe(3)
    expect(view.getBigUint64(8, true)).toBe(0n)
    expect(view.getBigUint64(16, true)).toBe(1n)
  })

  it('writes every metadata type so an independent reader gets the values back', async () => {
    const info = await readBack(
      encodeGguf({
        metadata: {
          'general.architecture': gguf.string('llama'),
          'test.u8': { type: 'uint8', value: 200 },
          'test.i8': { type: 'int8', value: -100 },
          'test.u16': { type: 'uint16', value: 60_000 },
          'test.i16': { type: 'int16', value: -30_000 },
          'test.u32': gguf.u32(4_000_000_000),
          'test.i32': gguf.i32(-2_000_000_000),
          'test.f32': gguf.f32(0.25),
          'test.bool': gguf.bool(true),
          'test.string': gguf.string('héllo ▁world'),
          'test.u64': { type: 'uint64', value: 2n ** 40n },
          'test.i64': { type: 'int64', value: -(2n ** 40n) },
          'test.f64': { type: 'float64', value: Math.PI },
          'test.strings': gguf.array('string', ['a', '<0x0A>', '']),
          'test.floats': gguf.array('float32', [1.5, -2]),
        },
        tensors: [],
      }),
      'metadata.gguf',
    )
    const test = (info.metadata as unknown as { test: Record<string, unknown> }).test
    expect(test).toMatchObject({
      u8: 200,
      i8: -100,
      u16: 60_000,
      i16: -30_000,
      u32: 4_000_000_000,
      i32: -2_000_000_000,
      f32: 0.25,
      bool: true,
      string: 'héllo ▁world',
      f64: Math.PI,
      strings: ['a', '<0x0A>', ''],
      floats: [1.5, -2],
    })
    expect(BigInt(test.u64 as bigint)).toBe(2n ** 40n)
    expect(BigInt(test.i64 as bigint)).toBe(-(2n ** 40n))
  })

  it('places tensors at aligned offsets, with their shapes and types', async () => {
    const data = (n: number) => Float32Array.from({ length: n }, (_, i) => i / n)
    const info = await readBack(
      encodeGguf({
        metadata: { 'general.architecture': gguf.string('llama') },
        tensors: [
          { name: 'a', shape: [3], type: 'F32', data: data(3) },
          { name: 'b', shape: [32, 2], type: 'Q8_0', data: data(64) },
          { name: 'c', shape: [5, 3], type: 'F16', data: data(15) },
        ],
      }),
      'tensors.gguf',
    )
    expect(
      info.tensorInfo?.map((t) => ({
        name: t.name,
        dims: t.dimensions.map(Number),
        type: t.ggmlType,
        offset: Number(t.offset),
      })),
    ).toEqual([
      { name: 'a', dims: [3], type: GgmlType.F32, offset: 0 },
      { name: 'b', dims: [32, 2], type: GgmlType.Q8_0, offset: 32 },
      // 2 blocks of 34 bytes = 68, padded to 96.
      { name: 'c', dims: [5, 3], type: GgmlType.F16, offset: 32 + 96 },
    ])
  })

  it('rejects tensors whose data does not match their shape or type', () => {
    const metadata = {}
    expect(() =>
      encodeGguf({ metadata, tensors: [{ name: 'x', shape: [4], type: 'F32', data: new Float32Array(3) }] }),
    ).toThrow(/3 values for shape \[4\]/)
    expect(() =>
      encodeGguf({
        metadata,
        tensors: [{ name: 'x', shape: [16], type: 'Q8_0', data: new Float32Array(16) }],
      }),
    ).toThrow(/multiple of 32/)
  })
})

describe('float16Bits', () => {
  it('rounds to the nearest binary16, ties to even, with subnormals, infinities and NaN', () => {
    expect(float16Bits(0)).toBe(0x0000)
    expect(float16Bits(-0)).toBe(0x8000)
    expect(float16Bits(1)).toBe(0x3c00)
    expect(float16Bits(-2)).toBe(0xc000)
    expect(float16Bits(65_504)).toBe(0x7bff)
    expect(float16Bits(65_520)).toBe(0x7c00) // rounds up to infinity
    expect(float16Bits(2 ** -24)).toBe(0x0001) // smallest subnormal
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00) // a tie: to the even mantissa
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(float16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00)
    expect(float16Bits(Number.NaN) & 0x7c00).toBe(0x7c00)
  })
})

describe('syntheticLlamaModel', () => {
  it('is a pure function of its options: same seed, same bytes; another seed, other weights', () => {
    const a = syntheticLlamaModel({ seed: 7 })
    expect(Buffer.from(syntheticLlamaModel({ seed: 7 }).bytes).equals(Buffer.from(a.bytes))).toBe(true)
    expect(Buffer.from(syntheticLlamaModel({ seed: 8 }).bytes).equals(Buffer.from(a.bytes))).toBe(false)
  })

  it('carries the metadata llama.cpp needs for the llama architecture and a SentencePiece vocabulary', async () => {
    const model = syntheticLlamaModel({ blockCount: 3, contextLength: 1024 })
    const info = await readBack(model.bytes, 'synthetic.gguf')
    expect(info.metadata.general).toMatchObject({ architecture: 'llama', file_type: 0 })
    expect(info.architectureMetadata).toMatchObject({
      context_length: 1024,
      embedding_length: 64,
      block_count: 3,
      feed_forward_length: 128,
      attention: { head_count: 4, head_count_kv: 2 },
      rope: { dimension_count: 16 },
    })
    const tokenizer = info.metadata.tokenizer
    expect(tokenizer?.ggml).toMatchObject({
      model: 'llama',
      bos_token_id: 1,
      eos_token_id: 2,
      unknown_token_id: 0,
    })
    expect(tokenizer?.ggml?.tokens).toEqual(model.vocab)
    expect(model.vocab).toContain('<0x0A>')
    expect(model.vocab).toContain('▁quick')
    expect(tokenizer?.chat_template).toBe(CHATML_TEMPLATE)
    const names = info.tensorInfo?.map((t) => t.name) ?? []
    expect(names.slice(0, 3)).toEqual(['token_embd.weight', 'output_norm.weight', 'output.weight'])
    expect(names).toContain('blk.2.ffn_down.weight')
    expect(names).toHaveLength(3 + 3 * 9)
    const parameters = (info.tensorInfo ?? []).reduce(
      (n, t) => n + t.dimensions.reduce<number>((m, d) => m * Number(d), 1),
      0,
    )
    expect(parameters).toBe(model.parameters)
  })

  it('stores the weight matrices as F16 or Q8_0 on request, keeping norms in F32', async () => {
    for (const [type, fileType, ggml] of [
      ['F16', 1, GgmlType.F16],
      ['Q8_0', 7, GgmlType.Q8_0],
    ] as const) {
      const info = await readBack(syntheticLlamaModel({ tensorType: type }).bytes, `${type}.gguf`)
      expect(info.metadata.general?.file_type).toBe(fileType)
      const types = new Map(info.tensorInfo?.map((t) => [t.name, t.ggmlType]))
      expect(types.get('blk.0.attn_q.weight')).toBe(ggml)
      expect(types.get('blk.0.attn_norm.weight')).toBe(GgmlType.F32)
    }
  })
})
