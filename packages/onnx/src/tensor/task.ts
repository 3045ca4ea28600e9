import type { BackendRunOptions, TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import { type OnnxContext, runSession } from '../backend/context.js'
import { InvalidTensorError } from '../errors.js'
import { loadOrt } from '../runtime/ort.js'
import { decodeInputs, fromOrtTensor, type JsonTensor, TENSOR_DTYPES, type TensorEncoding } from './tensor.js'

/** Input of the generic `onnx` task: named tensors in, named tensors out. */
export interface OnnxRunInput {
  /** Registry name of the model. */
  readonly model: string
  /** Every input the model declares, by name. */
  readonly inputs: Readonly<Record<string, JsonTensor>>
  /** Outputs to compute and return. @default all of the model's outputs */
  readonly outputs?: readonly string[] | undefined
  /** @default 'auto' (numbers up to 1024 elements, base64 above) */
  readonly encoding?: TensorEncoding | undefined
}

export interface OnnxRunOutput {
  readonly model: string
  readonly outputs: Readonly<Record<string, JsonTensor>>
}

const jsonTensorSchema = z.strictObject({
  dtype: z.enum(TENSOR_DTYPES),
  dims: z.array(z.number().int().min(0)).max(16),
  data: z.union([z.string(), z.array(z.union([z.number(), z.string(), z.boolean()]))]),
})

export const onnxRunInputSchema = z.strictObject({
  model: z.string().min(1).max(128),
  inputs: z.record(z.string().min(1).max(256), jsonTensorSchema),
  outputs: z.array(z.string().min(1).max(256)).min(1).max(256).optional(),
  encoding: z.enum(['auto', 'json', 'base64']).optional(),
})

export const onnxTaskType: TaskType<OnnxRunInput> = {
  name: 'onnx',
  description: 'Run any registered ONNX model on named tensors (dtypes and shapes checked against the model)',
  input: onnxRunInputSchema,
}

/** Runs the generic `onnx` task. */
export async function runOnnx(
  ctx: OnnxContext,
  input: OnnxRunInput,
  options: BackendRunOptions,
): Promise<OnnxRunOutput> {
  const model = await ctx.resolve(input.model, options.signal)
  const ort = await loadOrt()
  options.signal.throwIfAborted()
  return ctx.withSession(model, async (session) => {
    const feeds = decodeInputs(ort, session, input.inputs)
    const fetches = input.outputs ?? session.outputNames
    for (const name of fetches) {
      if (!session.outputNames.includes(name)) {
        throw new InvalidTensorError(
          `output ${JSON.stringify(name)}: the model has no such output (outputs: ${session.outputNames.join(', ')})`,
        )
      }
    }
    const result = await runSession(model, session, feeds, fetches)
    const outputs: Record<string, JsonTensor> = {}
    for (const name of fetches) outputs[name] = fromOrtTensor(result[name]!, input.encoding ?? 'auto')
    options.onProgress?.({ fraction: 1 })
    return { model: model.name, outputs }
  })
}
