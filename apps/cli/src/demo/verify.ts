/**
 * The demo's own check of every output, on top of the exchange's (which accepts a result only when
 * it is signed by the node the task was sent to and quotes the request's digest): a signature
 * proves who computed a result for which request, not that it is right. So the demo recomputes
 * what it can here (mock, chunk; embed and tokenize on the same model) and compares OCR with the
 * text it drew.
 */
import {
  type ChunkOutput,
  chunkText,
  type MockOutput,
  mockOutput,
  type TaskEngine,
  taskEngine,
} from '@p2p-ai/engine'
import { type EmbedOutput, type OcrOutput, onnxBackend } from '../onnx.js'
import { DEMO_MODEL, EMBED_TOLERANCE } from './constants.js'
import type { PlannedTask } from './workload.js'

export interface OutputCheck {
  readonly ok: boolean
  /** What was checked and found, in a few words. */
  readonly detail: string
}

export interface Verifier {
  check(task: PlannedTask, output: unknown): Promise<OutputCheck>
  close(): Promise<void>
}

/** A verifier; `embedModelPath` is the demo's model, loaded here only when an embed task needs it. */
export function verifier(embedModelPath: string): Verifier {
  let engine: TaskEngine | undefined
  const reference = new Map<string, Promise<unknown>>()
  const runHere = (type: 'embed' | 'tokenize', input: Record<string, unknown>): Promise<unknown> => {
    const key = `${type} ${JSON.stringify(input)}`
    let out = reference.get(key)
    if (out === undefined) {
      engine ??= taskEngine({
        builtins: false,
        workers: false,
        backends: [
          onnxBackend({
            worker: false,
            builtinModels: false,
            models: [{ name: DEMO_MODEL, path: embedModelPath }],
          }),
        ],
      })
      out = engine.run({ type, input })
      reference.set(key, out)
    }
    return out
  }

  return {
    async check(task, output) {
      try {
        switch (task.type) {
          case 'mock':
            return checkMock(task, output as MockOutput)
          case 'chunk':
            return checkChunk(task, output as ChunkOutput)
          case 'embed':
            return checkEmbed(output as EmbedOutput, (await runHere('embed', task.input)) as EmbedOutput)
          case 'tokenize':
            return checkSame('tokens', output, await runHere('tokenize', task.input))
          case 'ocr':
            return checkOcr(task, output as OcrOutput)
        }
      } catch (err) {
        return { ok: false, detail: `could not check the output: ${(err as Error).message}` }
      }
    },
    async close() {
      await engine?.stop({ timeoutMs: 1000 })
    },
  }
}

/** JSON with object keys sorted: results cross the wire as canonical JSON, so key order is not theirs to keep. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )
}

function checkMock(task: PlannedTask, out: MockOutput): OutputCheck {
  const want = mockOutput(String(task.input.text))
  const ok = canonical(out) === canonical(want)
  return ok
    ? { ok, detail: `checksum ${out.checksum}: same as computed here` }
    : { ok, detail: `expected ${canonical(want)}, got ${canonical(out).slice(0, 120)}` }
}

/** An output recomputed here with the same model: the same, key order aside. */
function checkSame(what: string, out: unknown, want: unknown): OutputCheck {
  const ok = canonical(out) === canonical(want)
  const count = (want as { tokens?: { count?: number } }).tokens?.count
  return ok
    ? { ok, detail: `${count === undefined ? '' : `${count} `}${what}: same as computed here` }
    : { ok, detail: `differs from the ${what} computed here` }
}

function checkChunk(task: PlannedTask, out: ChunkOutput): OutputCheck {
  const want = chunkText({ text: String(task.input.text), size: Number(task.input.size) })
  const ok = canonical(out) === canonical(want)
  return ok
    ? { ok, detail: `${out.chunks.length} chunks: same as split here` }
    : { ok, detail: `expected ${want.chunks.length} chunks, got a different split` }
}

function checkEmbed(out: EmbedOutput, want: EmbedOutput): OutputCheck {
  const got = out.embeddings[0]
  const ref = want.embeddings[0]
  if (
    !Array.isArray(got) ||
    !Array.isArray(ref) ||
    got.length !== ref.length ||
    out.dimensions !== ref.length
  ) {
    return { ok: false, detail: `expected a ${want.dimensions}-dimension vector, got ${out.dimensions}` }
  }
  let diff = 0
  let norm = 0
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] as number) - (ref[i] as number)))
    norm += (got[i] as number) ** 2
  }
  const ok = diff <= EMBED_TOLERANCE && Math.abs(Math.sqrt(norm) - 1) < 1e-3
  return ok
    ? {
        ok,
        detail: `${out.dimensions}-d unit vector: same as computed here${diff === 0 ? '' : ` (±${diff.toExponential(0)})`}`,
      }
    : { ok, detail: `differs from the vector computed here by up to ${diff.toExponential(1)}` }
}

function checkOcr(task: PlannedTask, out: OcrOutput): OutputCheck {
  // Blank margins may read as a space at either end; that is not part of the line.
  const read = out.text.trim()
  const ok = read === task.drawn
  return ok
    ? { ok, detail: `read "${read}" (${Math.round(out.confidence * 100)} % sure): the text drawn` }
    : { ok, detail: `read "${read}", but the image says "${task.drawn}"` }
}
