import { readFile, stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import type { Sharp } from 'sharp'
import { z } from 'zod'
import type { BackendRunOptions, TaskType } from '../backend.js'
import {
  OCR_INPUT_HEIGHT,
  OCR_MAX_IMAGE_BYTES,
  OCR_MAX_PIXELS,
  OCR_MAX_WIDTH,
  OCR_MIN_WIDTH,
  OCR_MODEL_NAME,
} from '../onnx/constants.js'
import { type OnnxContext, runSession } from '../onnx/context.js'
import { InvalidImageError, UnsupportedModelError } from '../onnx/errors.js'
import { loadOrt } from '../onnx/ort.js'

/** Input of the `ocr` task: an image of one line of text. */
export interface OcrInput {
  /** The encoded image (PNG, JPEG, WebP, TIFF, GIF...) as base64, optionally a `data:` URL. */
  readonly image?: string | undefined
  /** An image file on this machine; accepted only when the backend sets `allowLocalPaths`. */
  readonly path?: string | undefined
  /** Registry name of a CTC text recognizer. @default 'ppocr-v4-rec' */
  readonly model?: string | undefined
}

export interface OcrOutput {
  readonly model: string
  readonly text: string
  /** Mean probability of the recognised characters, 0..1 (0 when nothing was recognised). */
  readonly confidence: number
  /** Size of the decoded image, in pixels. */
  readonly width: number
  readonly height: number
}

/** Base64 as it may come from a browser or a `data:` URL: padded or not, no whitespace. */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/
const DATA_URL_RE = /^data:[\w.+-]+\/[\w.+-]+;base64,/

/** Schema of the `ocr` input; `path` is part of it only when local paths are allowed. */
export function ocrInputSchema(allowLocalPaths: boolean) {
  const base = {
    image: z
      .string()
      .max(Math.ceil((OCR_MAX_IMAGE_BYTES * 4) / 3) + 100)
      .optional(),
    model: z.string().min(1).max(128).optional(),
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
    description: 'Recognise the text in an image of one line (PaddleOCR v4, CTC decoding)',
    input: ocrInputSchema(allowLocalPaths),
  }
}

let sharpModule: Promise<typeof import('sharp')> | undefined
function loadSharp() {
  sharpModule ??= import('sharp').then((m) => m.default as unknown as typeof import('sharp'))
  return sharpModule
}

async function imageBytes(input: OcrInput): Promise<Buffer> {
  if (input.path !== undefined) {
    if (!isAbsolute(input.path)) throw new InvalidImageError(`path must be absolute, got ${input.path}`)
    let bytes: Buffer
    try {
      const size = (await stat(input.path)).size
      if (size > OCR_MAX_IMAGE_BYTES) {
        throw new InvalidImageError(`${input.path} is ${size} bytes, more than ${OCR_MAX_IMAGE_BYTES}`)
      }
      bytes = await readFile(input.path)
    } catch (err) {
      if (err instanceof InvalidImageError) throw err
      throw new InvalidImageError(`cannot read ${input.path}: ${(err as NodeJS.ErrnoException).code ?? err}`)
    }
    return bytes
  }
  const b64 = (input.image ?? '').replace(DATA_URL_RE, '')
  if (b64 === '' || !BASE64_RE.test(b64) || b64.length % 4 === 1) {
    throw new InvalidImageError('image is not base64 (optionally a data: URL)')
  }
  const bytes = Buffer.from(b64, 'base64')
  if (bytes.length > OCR_MAX_IMAGE_BYTES) {
    throw new InvalidImageError(`image is ${bytes.length} bytes, more than ${OCR_MAX_IMAGE_BYTES}`)
  }
  return bytes
}

/**
 * Decodes and prepares a line image as PaddleOCR's recognizer expects it: transparent areas on
 * white, height 48 with the aspect ratio kept, BGR channel order (the models were trained on
 * OpenCV images), scaled to (x/255 - 0.5)/0.5, CHW, right-padded with 0 to at least 320 pixels.
 */
export async function preprocessLine(
  bytes: Buffer,
): Promise<{ data: Float32Array; width: number; height: number; inputWidth: number }> {
  const sharp = await loadSharp()
  let width: number
  let height: number
  let pixels: Buffer
  let resizedWidth: number
  try {
    const image: Sharp = sharp(bytes, { limitInputPixels: OCR_MAX_PIXELS, failOn: 'error' })
    const meta = await image.metadata()
    // EXIF orientations 5-8 swap the axes.
    const swap = (meta.orientation ?? 1) >= 5
    width = (swap ? meta.height : meta.width) ?? 0
    height = (swap ? meta.width : meta.height) ?? 0
    if (width < 1 || height < 1) throw new Error('image has no pixels')
    resizedWidth = Math.min(OCR_MAX_WIDTH, Math.max(1, Math.ceil((OCR_INPUT_HEIGHT * width) / height)))
    pixels = await image
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize({ width: resizedWidth, height: OCR_INPUT_HEIGHT, fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer()
  } catch (err) {
    throw new InvalidImageError(`cannot decode image: ${(err as Error).message}`, { cause: err })
  }
  const H = OCR_INPUT_HEIGHT
  const W = Math.max(OCR_MIN_WIDTH, resizedWidth)
  const plane = H * W
  const data = new Float32Array(3 * plane)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < resizedWidth; x++) {
      const src = (y * resizedWidth + x) * 3
      const dst = y * W + x
      data[dst] = pixels[src + 2]! / 127.5 - 1
      data[plane + dst] = pixels[src + 1]! / 127.5 - 1
      data[2 * plane + dst] = pixels[src]! / 127.5 - 1
    }
  }
  return { data, width, height, inputWidth: W }
}

/**
 * CTC greedy decoding: the best class per time step, repeats collapsed, blanks (class 0) dropped.
 * Classes are `blank, ...dictionary` plus a final space when the model has one more class
 * (PaddleOCR's `use_space_char`). The confidence is the mean probability of the kept steps.
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  steps: number,
  classes: number,
  dictionary: readonly string[],
): { text: string; confidence: number } {
  const chars = classes === dictionary.length + 2 ? [...dictionary, ' '] : dictionary
  let text = ''
  let sum = 0
  let kept = 0
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
      text += chars[best - 1]
      // Exports that end in logits rather than a softmax still get a probability.
      sum += Math.abs(total - 1) < 1e-3 ? bestP : softmaxAt(probs, row, classes, best)
      kept++
    }
    previous = best
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept }
}

function softmaxAt(values: Float32Array, row: number, classes: number, index: number): number {
  let max = Number.NEGATIVE_INFINITY
  for (let c = 0; c < classes; c++) max = Math.max(max, values[row + c]!)
  let denom = 0
  for (let c = 0; c < classes; c++) denom += Math.exp(values[row + c]! - max)
  return Math.exp(values[row + index]! - max) / denom
}

/** Runs the `ocr` task on one text-line image. */
export async function runOcr(
  ctx: OnnxContext,
  input: OcrInput,
  options: BackendRunOptions,
): Promise<OcrOutput> {
  const { signal } = options
  const model = await ctx.resolve(input.model ?? OCR_MODEL_NAME, signal)
  const dictionary = await ctx.dictionary(model)
  const bytes = await imageBytes(input)
  const line = await preprocessLine(bytes)
  signal.throwIfAborted()
  const ort = await loadOrt()
  return ctx.withSession(model, async (session) => {
    const meta = session.inputMetadata[0]
    if (
      session.inputMetadata.length !== 1 ||
      meta === undefined ||
      !meta.isTensor ||
      meta.shape.length !== 4
    ) {
      throw new UnsupportedModelError(`model ${model.name} is not a text recognizer (one [N, 3, H, W] input)`)
    }
    const output = session.outputNames[0]!
    const x = new ort.Tensor('float32', line.data, [1, 3, OCR_INPUT_HEIGHT, line.inputWidth])
    const result = await runSession(model, session, { [meta.name]: x }, [output])
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
    const decoded = ctcGreedyDecode(probs.data as Float32Array, steps, classes, dictionary)
    options.onProgress?.({ fraction: 1 })
    return { model: model.name, ...decoded, width: line.width, height: line.height }
  })
}
