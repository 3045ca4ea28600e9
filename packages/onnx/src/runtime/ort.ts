import { nativeCall } from '@p2p-ai/engine'
import type * as Ort from 'onnxruntime-node'

export type OrtModule = typeof Ort
export type InferenceSession = Ort.InferenceSession
export type OrtTensor = Ort.Tensor

let ort: Promise<OrtModule> | undefined

/**
 * onnxruntime-node, imported on first use: loading the native addon costs tens of milliseconds and
 * memory that a node without ONNX tasks should not pay. Every call into it that does native work
 * (creating, running and releasing sessions, and loading the addon itself) goes through
 * `nativeCall`, so the engine never terminates the thread in the middle of one: that would abort the
 * whole process.
 */
export function loadOrt(): Promise<OrtModule> {
  ort ??= nativeCall(() => import('onnxruntime-node'))
  // A failed import (a platform without a binary) is reported to this task and retried by the next.
  ort.catch(() => {
    ort = undefined
  })
  return ort
}
