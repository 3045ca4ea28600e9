import type * as Ort from 'onnxruntime-node'

export type OrtModule = typeof Ort
export type InferenceSession = Ort.InferenceSession
export type OrtTensor = Ort.Tensor

let ort: Promise<OrtModule> | undefined

/**
 * onnxruntime-node, imported on first use: loading the native addon costs tens of milliseconds and
 * memory that an engine without ONNX tasks should not pay.
 */
export function loadOrt(): Promise<OrtModule> {
  ort ??= import('onnxruntime-node')
  return ort
}
