import type { ModelEntry, ResolvedModel } from './registry.js'

/**
 * What a plug-in tells the model registry about its kind of model file (ONNX, GGUF...). The
 * registry itself knows names, paths, sha256 pins, task types and manifests; everything that
 * depends on the file format comes from here.
 *
 * ```ts
 * const gguf: ModelFormat<GgufEntry> = {
 *   id: 'gguf',
 *   extensions: ['.gguf'],
 *   modelFiles: ['model.gguf'],
 *   validateEntry: (entry) => ({ ...entry, contextSize: checkContext(entry.contextSize) }),
 *   complete: async (model) => ({ ...model, taskTypes: model.entry.taskTypes ?? ['generate'] }),
 * }
 * ```
 */
export interface ModelFormat<
  E extends ModelEntry = ModelEntry,
  R extends ResolvedModel<E> = ResolvedModel<E>,
> {
  /** Short name, e.g. `onnx`; pulled models record it in their manifest. */
  readonly id: string
  /**
   * File name endings of this format (`.onnx`). A manifest that records no format belongs to the
   * format whose extension its model file has.
   */
  readonly extensions: readonly string[]
  /**
   * Files a directory entry is read from, in order of preference, when the entry names no `model`
   * (e.g. `model.onnx`, then `onnx/model.onnx` for Hugging Face exports).
   */
  readonly modelFiles: readonly string[]
  /**
   * Checks the format's own fields of an entry, after the registry checked the common ones, and
   * returns the entry to keep (with relative paths made absolute). Throws `InvalidModelEntryError`.
   */
  validateEntry?(entry: E): E
  /**
   * Completes a model whose file was found and checked: the task types it serves when the entry
   * lists none, companion files the format uses. Throws a coded error if the files are unusable.
   */
  complete?(model: ResolvedModel<E>): Promise<R>
}
