import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ModelCorruptError } from '@p2p-ai/engine'
import { UnsupportedModelError } from '../errors.js'
import type { OnnxModel } from '../models/format.js'

/**
 * What a token-classification model's label names: an entity type and where the token stands in
 * the entity. Tags read as Hugging Face reads them: `B-X` begins an `X`, `I-X` is inside one (and
 * begins one after anything but an `X`: IOB1), a tag without a prefix (`PER`) is inside an entity
 * of that type. `E-X`/`L-X` (the last token) and `S-X`/`U-X` (a single-token entity) of the
 * BIOES/BILOU schemes are understood too; Hugging Face's pipeline would treat them as plain tags.
 */
export interface Tag {
  /** `B`: begins an entity; `I`: continues one of its type; `E`: continues and ends it; `S`: alone. */
  readonly position: 'B' | 'I' | 'E' | 'S'
  /** The entity type: the label without its prefix. */
  readonly type: string
}

const POSITIONS: Readonly<Record<string, Tag['position']>> = {
  B: 'B',
  I: 'I',
  E: 'E',
  L: 'E',
  S: 'S',
  U: 'S',
}

export function parseTag(label: string): Tag {
  const m = /^([BIELSU])-(.+)$/.exec(label)
  return m === null ? { position: 'I', type: label } : { position: POSITIONS[m[1]!]!, type: m[2]! }
}

/** The label every token that is no entity gets. */
export const OUTSIDE = 'O'

/**
 * The labels of a token-classification model by class index, from `config.json`'s `id2label` (as
 * Hugging Face writes it: `{ "0": "O", "1": "B-PER", ... }`), checked against the sha256 a pull
 * recorded for the file.
 */
export async function readLabels(model: OnnxModel): Promise<readonly string[]> {
  const { name: modelName, dir } = model
  const file = join(dir, 'config.json')
  let text: string
  try {
    const bytes = await readFile(file)
    const expected = model.entry.files?.['config.json']
    const actual = expected === undefined ? undefined : createHash('sha256').update(bytes).digest('hex')
    if (actual !== expected) {
      throw new ModelCorruptError(
        `model ${modelName}: sha256 of config.json is ${actual}, expected ${expected}`,
      )
    }
    text = bytes.toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UnsupportedModelError(
        `model ${modelName} has no config.json with id2label in ${dir}: it is not a token-classification export`,
      )
    }
    throw err
  }
  let config: { id2label?: unknown }
  try {
    config = JSON.parse(text) as { id2label?: unknown }
  } catch (err) {
    throw new ModelCorruptError(`model ${modelName}: ${file} is not valid JSON: ${(err as Error).message}`)
  }
  const map = config.id2label
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length < 2) {
    throw new UnsupportedModelError(
      `model ${modelName}: ${file} has no id2label with at least two labels: it is not a token-classification export`,
    )
  }
  const entries = Object.entries(map as Record<string, unknown>)
  const labels: string[] = new Array(entries.length)
  for (const [key, label] of entries) {
    const id = Number(key)
    if (
      !Number.isSafeInteger(id) ||
      id < 0 ||
      id >= entries.length ||
      typeof label !== 'string' ||
      label === ''
    ) {
      throw new ModelCorruptError(
        `model ${modelName}: id2label in ${file} must map the ids 0..${entries.length - 1} to label names`,
      )
    }
    labels[id] = label
  }
  return labels
}

/** Whether a `config.json` describes a token-classification model (so a directory serves `ner`). */
export function isTokenClassifier(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return false
  const { architectures, id2label } = config as { architectures?: unknown; id2label?: unknown }
  if (
    Array.isArray(architectures) &&
    architectures.some((a) => typeof a === 'string' && a.endsWith('ForTokenClassification'))
  ) {
    return true
  }
  // Without architectures: labels that are tags, not the LABEL_0, LABEL_1 of a plain classifier.
  if (typeof id2label !== 'object' || id2label === null) return false
  return Object.values(id2label).some((l) => typeof l === 'string' && /^[BIELSU]-./.test(l))
}
