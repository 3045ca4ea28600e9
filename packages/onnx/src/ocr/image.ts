// Image input and line preprocessing of the `ocr` task.
import { readFile, stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import type { Sharp } from 'sharp'
import {
  OCR_INPUT_HEIGHT,
  OCR_MAX_IMAGE_BYTES,
  OCR_MAX_PIXELS,
  OCR_MAX_WIDTH,
  OCR_MIN_WIDTH,
} from '../constants.js'
import { InvalidImageError } from '../errors.js'

/** Base64 as it may come from a browser or a `data:` URL: padded or not, no whitespace. */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/
const DATA_URL_RE = /^data:[\w.+-]+\/[\w.+-]+;base64,/

let sharpModule: Promise<typeof import('sharp')> | undefined

/** sharp, imported on first use (libvips is large; engines without OCR never load it). */
export function loadSharp(): Promise<typeof import('sharp')> {
  sharpModule ??= import('sharp').then((m) => m.default as unknown as typeof import('sharp'))
  return sharpModule
}

/** The encoded image of an `ocr` input: base64 (or a `data:` URL), or a local file. */
export async function imageBytes(input: {
  image?: string | undefined
  path?: string | undefined
}): Promise<Buffer> {
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
