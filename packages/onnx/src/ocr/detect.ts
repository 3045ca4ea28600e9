/**
 * Text-line detection for `ocr` with `layout: 'page'`: the PaddleOCR v4 DB detector finds the
 * lines, each is cropped and read by the recognizer. Boxes are axis-aligned: rotated or curved
 * text is not straightened.
 */
import { type OnnxContext, runSession } from '../backend/context.js'
import {
  OCR_DET_BOX_THRESHOLD,
  OCR_DET_MAX_BOXES,
  OCR_DET_MAX_SIDE,
  OCR_DET_PIXEL_THRESHOLD,
  OCR_DET_UNCLIP_RATIO,
  OCR_MAX_PIXELS,
} from '../constants.js'
import { InvalidImageError, UnsupportedModelError } from '../errors.js'
import type { OnnxModel } from '../models/format.js'
import { type InferenceSession, loadOrt } from '../runtime/ort.js'
import { loadSharp } from './image.js'

/** A detected line, in pixels of the (EXIF-rotated) input image. */
export interface TextBox {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** A decoded page: RGB pixels, kept to crop the lines from. */
export interface DecodedPage {
  readonly pixels: Buffer
  readonly width: number
  readonly height: number
}

// PaddleOCR's detector normalisation (ImageNet statistics), applied to BGR channels in order.
const MEAN = [0.485, 0.456, 0.406] as const
const STD = [0.229, 0.224, 0.225] as const

/** Decodes an image to RGB (EXIF rotation applied, transparency on white). */
export async function decodePage(bytes: Buffer): Promise<DecodedPage> {
  const sharp = await loadSharp()
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: OCR_MAX_PIXELS, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    return { pixels: data, width: info.width, height: info.height }
  } catch (err) {
    throw new InvalidImageError(`cannot decode image: ${(err as Error).message}`, { cause: err })
  }
}

/** A crop of the page, encoded as PNG for the line recognizer. */
export async function cropLine(page: DecodedPage, box: TextBox): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp(page.pixels, { raw: { width: page.width, height: page.height, channels: 3 } })
    .extract({ left: box.x, top: box.y, width: box.width, height: box.height })
    .png({ compressionLevel: 0 })
    .toBuffer()
}

/** Finds the text lines of a page with a DB text detector, in reading order. */
export async function detectLines(ctx: OnnxContext, model: OnnxModel, page: DecodedPage): Promise<TextBox[]> {
  const sharp = await loadSharp()
  // The detector takes sides that are multiples of 32. The page keeps its aspect ratio, scaled
  // down to fit OCR_DET_MAX_SIDE, and is padded with white up to the next multiple of 32 (as
  // PaddleOCR pads): rounding a side instead would squash or stretch the text, and a 43-pixel line
  // squashed to 32 pixels comes apart into pieces.
  const scale = Math.min(1, OCR_DET_MAX_SIDE / Math.max(page.width, page.height))
  const rw = Math.max(1, Math.round(page.width * scale))
  const rh = Math.max(1, Math.round(page.height * scale))
  const w = Math.ceil(rw / 32) * 32
  const h = Math.ceil(rh / 32) * 32
  const resized = await sharp(page.pixels, { raw: { width: page.width, height: page.height, channels: 3 } })
    .resize({ width: rw, height: rh, fit: 'fill' })
    .extend({ right: w - rw, bottom: h - rh, background: '#ffffff' })
    .raw()
    .toBuffer()
  const plane = w * h
  const input = new Float32Array(3 * plane)
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) input[c * plane + i] = (resized[i * 3 + (2 - c)]! / 255 - MEAN[c]!) / STD[c]!
  }
  const ort = await loadOrt()
  const probs = await ctx.withSession(model, async (session) => {
    const inputName = imageInput(session, model, 'text detector')
    const output = session.outputNames[0]!
    const result = await runSession(
      model,
      session,
      { [inputName]: new ort.Tensor('float32', input, [1, 3, h, w]) },
      [output],
    )
    const map = result[output]!
    if (
      map.type !== 'float32' ||
      map.dims.length !== 4 ||
      Number(map.dims[2]) !== h ||
      Number(map.dims[3]) !== w
    ) {
      throw new UnsupportedModelError(
        `model ${model.name}: output is not a [1, 1, ${h}, ${w}] probability map`,
      )
    }
    return map.data as Float32Array
  })
  const boxes = components(probs, w, h).map((b) => unclipAndScale(b, rw / page.width, rh / page.height, page))
  return readingOrder(boxes.filter((b) => b.width >= 2 && b.height >= 2))
}

interface Component {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

/** 8-connected regions of the thresholded map whose mean probability passes the box threshold. */
function components(probs: Float32Array, w: number, h: number): Component[] {
  const seen = new Uint8Array(w * h)
  const stack = new Int32Array(w * h)
  const out: Component[] = []
  for (let start = 0; start < w * h; start++) {
    if (seen[start] === 1 || probs[start]! <= OCR_DET_PIXEL_THRESHOLD) continue
    let top = 0
    stack[top++] = start
    seen[start] = 1
    const c: Component = { minX: w, minY: h, maxX: 0, maxY: 0 }
    let sum = 0
    let count = 0
    while (top > 0) {
      const p = stack[--top]!
      const x = p % w
      const y = (p - x) / w
      sum += probs[p]!
      count++
      if (x < c.minX) c.minX = x
      if (x > c.maxX) c.maxX = x
      if (y < c.minY) c.minY = y
      if (y > c.maxY) c.maxY = y
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx
          const ny = y + dy
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue
          const q = ny * w + nx
          if (seen[q] === 0 && probs[q]! > OCR_DET_PIXEL_THRESHOLD) {
            seen[q] = 1
            stack[top++] = q
          }
        }
      }
    }
    const small = Math.min(c.maxX - c.minX + 1, c.maxY - c.minY + 1) < 3
    if (!small && sum / count >= OCR_DET_BOX_THRESHOLD) out.push(c)
    if (out.length >= OCR_DET_MAX_BOXES) break
  }
  return out
}

/** DB boxes hug the text's core; grow them by area × ratio / perimeter, as PaddleOCR does. */
function unclipAndScale(c: Component, sx: number, sy: number, page: DecodedPage): TextBox {
  const bw = c.maxX - c.minX + 1
  const bh = c.maxY - c.minY + 1
  const d = (bw * bh * OCR_DET_UNCLIP_RATIO) / (2 * (bw + bh))
  const x0 = Math.max(0, Math.floor((c.minX - d) / sx))
  const y0 = Math.max(0, Math.floor((c.minY - d) / sy))
  const x1 = Math.min(page.width, Math.ceil((c.maxX + 1 + d) / sx))
  const y1 = Math.min(page.height, Math.ceil((c.maxY + 1 + d) / sy))
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

/** Top to bottom; boxes whose vertical centres are within half a line of each other, left to right. */
function readingOrder(boxes: TextBox[]): TextBox[] {
  const sorted = [...boxes].sort((a, b) => a.y + a.height / 2 - (b.y + b.height / 2))
  const rows: TextBox[][] = []
  for (const box of sorted) {
    const row = rows.at(-1)
    const ref = row?.[0]
    if (
      row !== undefined &&
      ref !== undefined &&
      Math.abs(box.y + box.height / 2 - (ref.y + ref.height / 2)) < ref.height / 2
    ) {
      row.push(box)
    } else {
      rows.push([box])
    }
  }
  return rows.flatMap((row) => row.sort((a, b) => a.x - b.x))
}

/** The name of a model's one image input (`[N, 3, H, W]`); any other model is refused. */
export function imageInput(session: InferenceSession, model: OnnxModel, what: string): string {
  const meta = session.inputMetadata[0]
  if (session.inputMetadata.length !== 1 || meta === undefined || !meta.isTensor || meta.shape.length !== 4) {
    throw new UnsupportedModelError(`model ${model.name} is not a ${what} (one [N, 3, H, W] input)`)
  }
  return meta.name
}
