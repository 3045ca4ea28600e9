import { truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import { ctcGreedyDecode, type OcrOutput } from '../src/ocr/ocr.js'
import { hugePngHeader, renderLine, renderPage, renderStrip } from './fixtures/images.js'
import { removeDir, runTask, tempDir, writeArithmetic } from './fixtures/models.js'

const LINES = [
  'Hello world',
  '1234567890',
  'MixedCase Text 42',
  'p2p-ai agents',
  'The quick brown fox',
  'Peer 7 sent 3 tasks',
]

describe('ocr (PaddleOCR v4 recognizer)', () => {
  let root: string
  let backend: OnnxBackend
  let local: OnnxBackend

  beforeAll(async () => {
    root = await tempDir()
    const arith = await writeArithmetic(root)
    await writeFile(join(root, 'keys.txt'), 'a\nb\n')
    backend = onnxBackend({
      worker: false,
      models: [{ name: 'not-ocr', path: arith, dictionary: join(root, 'keys.txt') }],
    })
    local = onnxBackend({ worker: false, allowLocalPaths: true })
    await backend.load()
  })
  afterAll(async () => {
    await backend?.unload()
    await local?.unload()
    await removeDir(root)
  })

  const ocr = async (image: Buffer | string, extra: object = {}) =>
    (await runTask(backend, 'ocr', {
      image: typeof image === 'string' ? image : image.toString('base64'),
      ...extra,
    })) as OcrOutput

  it.each(LINES)('reads the rendered line %j exactly', async (line) => {
    const out = await ocr(await renderLine(line))
    expect(out.text).toBe(line)
    expect(out.model).toBe('ppocr-v4-rec')
    expect(out.confidence).toBeGreaterThan(0.9)
    expect(out.confidence).toBeLessThanOrEqual(1)
  })

  it.each([...LINES, 'OCR reads this', 'Final line 10'])(
    'reads %j with a wide white margin without a space at either end',
    async (line) => {
      // The recognizer reads a wide margin as a space; these lines came back as " Hello world ".
      const out = await ocr(await renderLine(line, { margin: 16 }))
      expect(out.text).toBe(line)
      expect(out.confidence).toBeGreaterThan(0.9)
    },
  )

  it('reads JPEG, large text, and text on a transparent background', async () => {
    expect((await ocr(await renderLine('Hello world', { format: 'jpeg' }))).text).toBe('Hello world')
    const big = await renderLine('1234567890', { size: 96 })
    const out = await ocr(big)
    expect(out.text).toBe('1234567890')
    const meta = await sharp(big).metadata()
    expect([out.width, out.height]).toEqual([meta.width, meta.height])
    expect((await ocr(await renderLine('MixedCase Text 42', { transparent: true }))).text).toBe(
      'MixedCase Text 42',
    )
  })

  it('accepts a data: URL', async () => {
    const png = await renderLine('p2p-ai agents')
    expect((await ocr(`data:image/png;base64,${png.toString('base64')}`)).text).toBe('p2p-ai agents')
  })

  it('returns empty text with confidence 0 for a blank image', async () => {
    const blank = await sharp({ create: { width: 200, height: 40, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer()
    expect(await ocr(blank)).toMatchObject({ text: '', confidence: 0 })
  })

  it.each([
    ['text that is not base64', 'not base64 at all!'],
    ['an empty image', ''],
    [
      'bytes that are no image',
      Buffer.from('GIF? no, just some bytes that decode to nothing').toString('base64'),
    ],
    ['a truncated PNG', async () => (await renderLine('Hello')).subarray(0, 80).toString('base64')],
    ['a decompression bomb', hugePngHeader(100_000, 100_000).toString('base64')],
  ])('rejects %s with ERR_INVALID_IMAGE', async (_, image) => {
    const data = typeof image === 'function' ? await image() : image
    await expect(ocr(data)).rejects.toMatchObject({ code: 'ERR_INVALID_IMAGE', name: 'InvalidImageError' })
  })

  it('reads local files only when allowLocalPaths is set', async () => {
    const file = join(root, 'line.png')
    await writeFile(file, await renderLine('The quick brown fox'))
    await expect(runTask(backend, 'ocr', { path: file })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    expect(((await runTask(local, 'ocr', { path: file })) as OcrOutput).text).toBe('The quick brown fox')
    await expect(runTask(local, 'ocr', { path: 'line.png' })).rejects.toMatchObject({
      code: 'ERR_INVALID_IMAGE',
    })
    await expect(runTask(local, 'ocr', { path: join(root, 'none.png') })).rejects.toMatchObject({
      code: 'ERR_INVALID_IMAGE',
    })
    // A sparse file: large on paper, refused before it is read.
    const huge = join(root, 'huge.png')
    await writeFile(huge, '')
    await truncate(huge, 64 * 1024 * 1024)
    await expect(runTask(local, 'ocr', { path: huge })).rejects.toMatchObject({
      code: 'ERR_INVALID_IMAGE',
      message: expect.stringContaining('more than'),
    })
  })

  it('refuses a model that is no text recognizer', async () => {
    await expect(ocr(await renderLine('Hello'), { model: 'not-ocr' })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_MODEL',
    })
    await expect(ocr(await renderLine('Hello'), { model: 'nope' })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
    })
  })

  it('reads a page line by line in reading order with layout: page', async () => {
    const page = await renderPage([['Hello world'], ['Peer 7 sent', 'MixedCase 42'], ['1234567890']])
    const out = await ocr(page, { layout: 'page' })
    expect(out.lines?.map((l) => l.text)).toEqual([
      'Hello world',
      'Peer 7 sent',
      'MixedCase 42',
      '1234567890',
    ])
    expect(out.text).toBe('Hello world\nPeer 7 sent\nMixedCase 42\n1234567890')
    expect(out.confidence).toBeGreaterThan(0.9)
    const meta = await sharp(page).metadata()
    expect([out.width, out.height]).toEqual([meta.width, meta.height])
    for (const { box } of out.lines ?? []) {
      expect(box.x).toBeGreaterThanOrEqual(0)
      expect(box.y).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width).toBeLessThanOrEqual(out.width)
      expect(box.y + box.height).toBeLessThanOrEqual(out.height)
    }
    // The two blocks of the second row sit side by side, left one first.
    const [, left, right] = out.lines ?? []
    expect(left!.box.x + left!.box.width).toBeLessThan(right!.box.x)
    expect(Math.abs(left!.box.y - right!.box.y)).toBeLessThan(left!.box.height / 2)
  })

  it.each([40, 43, 47])('reads a %i-pixel page of one line as that line, unsquashed', async (height) => {
    // The detector takes sides in multiples of 32: such a page was squashed to 32 pixels, and its
    // line came apart into pieces ("Thequickbrownfoxjumps", "over the lazy dog").
    const line = 'The quick brown fox jumps over the lazy dog'
    const out = await ocr(await renderStrip(line, height), { layout: 'page' })
    expect(out.lines?.map((l) => l.text)).toEqual([line])
    expect(out.height).toBe(height)
    const { box } = out.lines![0]!
    expect(box.y + box.height).toBeLessThanOrEqual(height)
    expect(box.x + box.width).toBeLessThanOrEqual(out.width)
  })

  it('finds no lines on a blank page', async () => {
    const blank = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer()
    expect(await ocr(blank, { layout: 'page' })).toMatchObject({ text: '', confidence: 0, lines: [] })
  })

  it('refuses a detector that is no text detector', async () => {
    const page = await renderPage([['Hello']])
    await expect(ocr(page, { layout: 'page', detector: 'not-ocr' })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_MODEL',
    })
    await expect(ocr(page, { layout: 'page', detector: 'nope' })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
    })
  })

  it('announces the built-in recognizer and detector', () => {
    const names = backend.models().map((m) => m.name)
    expect(names).toEqual(expect.arrayContaining(['ppocr-v4-rec', 'ppocr-v4-det']))
    expect(backend.models().find((m) => m.name === 'ppocr-v4-rec')?.taskTypes).toEqual(['ocr', 'onnx'])
  })
})

describe('CTC greedy decoding', () => {
  // Classes: 0 blank, 1 'a', 2 'b', 3 space (one more class than the dictionary has).
  const steps = (rows: number[][]) => new Float32Array(rows.flat())

  it('collapses repeats, drops blanks and keeps a letter repeated across a blank', () => {
    const probs = steps([
      [0.1, 0.9, 0, 0],
      [0.2, 0.8, 0, 0],
      [0.9, 0.1, 0, 0],
      [0.3, 0.7, 0, 0],
      [0, 0, 0, 1],
      [0, 0, 0.6, 0.4],
    ])
    const out = ctcGreedyDecode(probs, 6, 4, ['a', 'b'])
    expect(out.text).toBe('aa b')
    expect(out.confidence).toBeCloseTo((0.9 + 0.7 + 1 + 0.6) / 4, 6)
  })

  it('drops spaces at either end, and their probabilities from the confidence', () => {
    const probs = steps([
      [0, 0, 0, 1],
      [0.1, 0.9, 0, 0],
      [0.2, 0, 0, 0.8],
      [0, 0, 0.6, 0.4],
      [0.3, 0, 0, 0.7],
    ])
    const out = ctcGreedyDecode(probs, 5, 4, ['a', 'b'])
    expect(out.text).toBe('a b')
    expect(out.confidence).toBeCloseTo((0.9 + 0.8 + 0.6) / 3, 6)
    expect(ctcGreedyDecode(steps([[0, 0, 0, 1]]), 1, 4, ['a', 'b'])).toEqual({ text: '', confidence: 0 })
  })

  it('turns logits into probabilities for the confidence', () => {
    const out = ctcGreedyDecode(steps([[0, 2, 0]]), 1, 3, ['a', 'b'])
    expect(out.text).toBe('a')
    expect(out.confidence).toBeCloseTo(Math.exp(2) / (2 + Math.exp(2)), 6)
  })
})
