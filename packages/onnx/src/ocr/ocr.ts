import type { BackendRunOptions, TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import { type OnnxContext, runSession } from '../backend/context.js'
import { OCR_DETECTOR_NAME, OCR_INPUT_HEIGHT, OCR_MAX_IMAGE_BYTES, OCR_MODEL_NAME } from '../constants.js'
import { UnsupportedModelError } from '../errors.js'
import type { OnnxModel } from '../models/format.js'
import { loadOrt } from '../runtime/ort.js'
import { cropLine, decodePage, detectLines, imageInput, type TextBox } from './detect.js'
import { imageBytes, preprocessLine } from './image.js'

/** Input of the `ocr` task: an image of one line of text, or of a page. */
export interface OcrInput {
  /** The encoded image (PNG, JPEG, WebP, TIFF, GIF...) as base64, optionally a `data:` URL. */
  readonly image?: string | undefined
  /** An image file on this machine; accepted only when the backend sets `allowLocalPaths`. */
  readonly path?: string | undefined
  /** Registry name of a CTC text recognizer. @default 'ppocr-v4-rec' */
  readonly model?: string | undefined
  /**
   * `line`: the image is one line of text. `page`: find the lines with a text detector first,
   * then read each (horizontal text). @default 'line'
   */
  readonly layout?: 'line' | 'page' | undefined
  /** `page`: registry name of a DB text detector. @default 'ppocr-v4-det' */
  readonly detector?: string | undefined
}

/** One line of a page. */
export interface OcrLine {
  readonly text: string
  readonly confidence: number
  /** Where the line is, in pixels of the (EXIF-rotated) image. */
  readonly box: TextBox
}

export interface OcrOutput {
  readonly model: string
  readonly text: string
  /** Mean probability of the recognised characters, 0..1 (0 when nothing was recognised). */
  readonly confidence: number
  /** Size of the decoded image, in pixels. */
  readonly width: number
  readonly height: number
  /** `layout: 'page'`: the lines in reading order (`text` joins them with newlines). */
  readonly lines?: readonly OcrLine[]
}

/** Schema of the `ocr` input; `path` is part of it only when local paths are allowed. */
export function ocrInputSchema(allowLocalPaths: boolean) {
  const base = {
    image: z
      .string()
      .max(Math.ceil((OCR_MAX_IMAGE_BYTES * 4) / 3) + 100)
      .optional(),
    model: z.string().min(1).max(128).optional(),
    layout: z.enum(['line', 'page']).optional(),
    detector: z.string().min(1).max(128).optional(),
  }
  const pick = (v: { image?: string | undefined; path?: string | undefined }) =>
    (v.image === undefined) !== (v.path === undefined)
  return allowLocalPaths
    ? z
        .strictObject({ ...base, path: z.string().min(1).max(4096).optional() })
        .refine(pick, { message: 'give exactly one of `image` or `path`' })
    : z.strictObject(base).refine((v) => v.image !== undefined, { message: '`image` is required' })
}

/** The `ocr` task type; build with the backend's `allowLocalPaths`. */
export function ocrTaskType(allowLocalPaths: boolean): TaskType<OcrInput> {
  return {
    name: 'ocr',
    description: 'Recognise the text of an image of one line, or of a page (PaddleOCR v4 detection + CTC)',
    input: ocrInputSchema(allowLocalPaths),
  }
}

/**
 * CTC greedy decoding: the best class per time step, repeats collapsed, blanks (class 0) dropped.
 * Classes are `blank, ...dictionary` plus a final space when the model has one more class
 * (PaddleOCR's `use_space_char`). Spaces at either end are dropped: the recognizer reads the white
 * margin around a line as a space. The confidence is the mean probability of the characters kept.
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  steps: number,
  classes: number,
  dictionary: readonly string[],
): { text: string; confidence: number } {
  const chars = classes === dictionary.length + 2 ? [...dictionary, ' '] : dictionary
  const kept: string[] = []
  const probabilities: number[] = []
  let previous = -1
  for (let t = 0; t < steps; t++) {
    const row = t * classes
    let best = 0
    let bestP = probs[row]!
    let total = 0
    for (let c = 0; c < classes; c++) {
      const p = probs[row + c]!
      total += p
      if (p > bestP) {
        bestP = p
        best = c
      }
    }
    if (best !== 0 && best !== previous) {
      kept.push(chars[best - 1]!)
      // Exports that end in logits rather than a softmax still get a probability.
      probabilities.push(Math.abs(total - 1) < 1e-3 ? bestP : softmaxAt(probs, row, classes, best))
    }
    previous = best
  }
  let start = 0
  let end = kept.length
  while (start < end && kept[start]!.trim() === '') start++
  while (end > start && kept[end - 1]!.trim() === '') end--
  let sum = 0
  for (let i = start; i < end; i++) sum += probabilities[i]!
  return { text: kept.slice(start, end).join(''), confidence: end === start ? 0 : sum / (end - start) }
}

function softmaxAt(values: Float32Array, row: number, classes: number, index: number): number {
  let max = Number.NEGATIVE_INFINITY
  for (let c = 0; c < classes; c++) max = Math.max(max, values[row + c]!)
  let denom = 0
  for (let c = 0; c < classes; c++) denom += Math.exp(values[row + c]! - max)
  return Math.exp(values[row + index]! - max) / denom
}

/** Reads one line image (encoded bytes) with a CTC recognizer. */
async function recognizeLine(
  ctx: OnnxContext,
  model: OnnxModel,
  dictionary: readonly string[],
  bytes: Buffer,
): Promise<{ text: string; confidence: number; width: number; height: number }> {
  const line = await preprocessLine(bytes)
  const ort = await loadOrt()
  return ctx.withSession(model, async (session) => {
    const inputName = imageInput(session, model, 'text recognizer')
    const output = session.outputNames[0]!
    const x = new ort.Tensor('float32', line.data, [1, 3, OCR_INPUT_HEIGHT, line.inputWidth])
    const result = await runSession(model, session, { [inputName]: x }, [output])
    const probs = result[output]!
    const [, steps, classes] = probs.dims.map(Number) as [number, number, number]
    if (probs.dims.length !== 3 || probs.type !== 'float32') {
      throw new UnsupportedModelError(`model ${model.name}: output is not [1, steps, classes] float32`)
    }
    if (classes !== dictionary.length + 1 && classes !== dictionary.length + 2) {
      throw new UnsupportedModelError(
        `model ${model.name}: ${classes} output classes do not fit a dictionary of ${dictionary.length} characters`,
      )
    }
    return {
      ...ctcGreedyDecode(probs.data as Float32Array, steps, classes, dictionary),
      width: line.width,
      height: line.height,
    }
  })
}

/** Runs the `ocr` task. */
export async function runOcr(
  ctx: OnnxContext,
  input: OcrInput,
  options: BackendRunOptions,
): Promise<OcrOutput> {
  const { signal } = options
  const model = await ctx.resolve(input.model ?? OCR_MODEL_NAME, signal)
  const dictionary = await ctx.dictionary(model)
  const detector =
    input.layout === 'page' ? await ctx.resolve(input.detector ?? OCR_DETECTOR_NAME, signal) : undefined
  const bytes = await imageBytes(input)
  signal.throwIfAborted()
  if (detector === undefined) {
    const line = await recognizeLine(ctx, model, dictionary, bytes)
    options.onProgress?.({ fraction: 1 })
    return { model: model.name, ...line }
  }
  const page = await decodePage(bytes)
  const boxes = await detectLines(ctx, detector, page)
  const lines: OcrLine[] = []
  for (const [i, box] of boxes.entries()) {
    signal.throwIfAborted()
    const { text, confidence } = await recognizeLine(ctx, model, dictionary, await cropLine(page, box))
    if (text !== '') lines.push({ text, confidence, box })
    options.onProgress?.({ fraction: (i + 1) / boxes.length })
  }
  const confidence = lines.length === 0 ? 0 : lines.reduce((s, l) => s + l.confidence, 0) / lines.length
  return {
    model: model.name,
    text: lines.map((l) => l.text).join('\n'),
    confidence,
    width: page.width,
    height: page.height,
    lines,
  }
}
