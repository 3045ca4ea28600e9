import { UnsupportedModelError } from '../errors.js'
import type { InferenceSession, OrtModule, OrtTensor } from '../runtime/ort.js'

/** The inputs a Hugging Face text encoder takes; a graph with any other cannot be fed from text. */
const TEXT_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids'])

/** One row of a batch: a tokenised text with its special tokens. */
export interface TokenRow {
  readonly ids: readonly number[]
  /** @default all 0 */
  readonly typeIds?: readonly number[]
}

/**
 * Checks that a graph takes token ids (and optionally the attention mask and token types, as
 * int64 or int32) and nothing else. Throws `ERR_UNSUPPORTED_MODEL` naming what does not fit.
 */
export function checkTextInputs(modelName: string, session: InferenceSession, task: string): void {
  for (const m of session.inputMetadata) {
    if (!TEXT_INPUTS.has(m.name)) {
      throw new UnsupportedModelError(
        `model ${modelName}: input ${JSON.stringify(m.name)} is not one ${task} can feed (${[...TEXT_INPUTS].join(', ')})`,
      )
    }
    if (m.isTensor && m.type !== 'int64' && m.type !== 'int32') {
      throw new UnsupportedModelError(
        `model ${modelName}: input ${m.name} is ${m.type}, expected int64 or int32`,
      )
    }
  }
  if (!session.inputNames.includes('input_ids')) {
    throw new UnsupportedModelError(`model ${modelName} has no input_ids input; it is not a text model`)
  }
}

/**
 * The feeds of a batch of rows, each padded with `padId` to `seq` tokens (masked out), in the
 * element type each input of the graph declares.
 */
export function textFeeds(
  ort: OrtModule,
  session: InferenceSession,
  rows: readonly TokenRow[],
  seq: number,
  padId: number,
): Record<string, OrtTensor> {
  const feeds: Record<string, OrtTensor> = {}
  const b = rows.length
  for (const m of session.inputMetadata) {
    const int32 = m.isTensor && m.type === 'int32'
    const data = int32 ? new Int32Array(b * seq) : new BigInt64Array(b * seq)
    rows.forEach((row, r) => {
      for (let t = 0; t < seq; t++) {
        const v =
          m.name === 'input_ids'
            ? (row.ids[t] ?? padId)
            : m.name === 'attention_mask'
              ? t < row.ids.length
                ? 1
                : 0
              : (row.typeIds?.[t] ?? 0)
        data[r * seq + t] = (int32 ? v : BigInt(v)) as never
      }
    })
    feeds[m.name] = new ort.Tensor(int32 ? 'int32' : 'int64', data, [b, seq])
  }
  return feeds
}
