import { InvalidModelEntryError } from '@p2p-ai/engine'
import type { AddedModelJson, AddModelRequest } from '../control/types.js'
import { saveAddedModel } from '../daemon/models-file.js'
import type { LlamaBackend } from '../llama.js'
import { MODEL_FILE_CANDIDATES, type OnnxBackend, type OnnxModelEntry } from '../onnx.js'
import { inspectLocalModel } from './local.js'

/** The backends a model is registered with: ONNX models with the one, GGUF models with the other. */
export interface ModelHosts {
  readonly onnx: OnnxBackend
  readonly llama: LlamaBackend
}

export interface RegisterOptions {
  readonly signal?: AbortSignal
  /** Whether the hosts are a running node's (so the model is served now). */
  readonly served: boolean
}

/**
 * Registers a model of this machine with the backend of its format (which checks its files:
 * sha256, GGUF header or ONNX task types) and records it, pinned to that sha256, in the data
 * directory's `models.json`. A name is one model: a model of the same name in the other format's
 * backend is dropped. Resolves with what was registered and whether the ONNX backend changed (its
 * workers then need renewing: `engine.backends.reload`).
 */
export async function registerModel(
  hosts: ModelHosts,
  dataDir: string,
  request: AddModelRequest,
  options: RegisterOptions,
): Promise<{ model: AddedModelJson; onnxChanged: boolean }> {
  const { name, taskTypes } = request
  const local = await inspectLocalModel(request.path, request.file, MODEL_FILE_CANDIDATES)
  const common = {
    name,
    format: local.format,
    path: local.path,
    otherFiles: local.others,
    served: options.served,
  }
  const signal = options.signal === undefined ? {} : { signal: options.signal }
  if (local.format === 'onnx') {
    const entry: OnnxModelEntry = {
      name,
      path: local.path,
      ...(local.file === undefined ? {} : { model: local.file }),
      ...(taskTypes === undefined || taskTypes.length === 0 ? {} : { taskTypes: [...taskTypes] }),
    }
    const model = await hosts.onnx.addModel(entry, signal)
    await hosts.llama.removeModel(name)
    const replaced = await saveAddedModel(dataDir, { ...entry, sha256: model.sha256, format: 'onnx' })
    return {
      model: {
        ...common,
        file: model.modelFile,
        sha256: model.sha256,
        sizeBytes: model.sizeBytes,
        taskTypes: model.taskTypes,
        replaced,
      },
      onnxChanged: true,
    }
  }
  if (taskTypes !== undefined && taskTypes.length > 0) {
    throw new InvalidModelEntryError(
      `model ${name}: task types are for ONNX models; a GGUF model serves generate`,
    )
  }
  const before = hosts.llama.models().some((m) => m.name === name)
  let info: Awaited<ReturnType<LlamaBackend['addModel']>>
  try {
    info = await hosts.llama.addModel({ name, path: local.path }, signal)
  } catch (err) {
    // llama keeps a model it could not read registered (to report its error); a new one goes.
    if (!before) await hosts.llama.removeModel(name)
    throw err
  }
  const onnxChanged = hosts.onnx.registry.unregister(name)
  const replaced = await saveAddedModel(dataDir, {
    name,
    path: local.path,
    sha256: info.sha256,
    format: 'gguf',
  })
  return {
    model: {
      ...common,
      file: local.path,
      sha256: info.sha256,
      sizeBytes: info.sizeBytes,
      taskTypes: info.taskTypes,
      replaced,
    },
    onnxChanged,
  }
}
