/**
 * Where a job's items come from, read as a stream so memory stays bounded whatever the input's
 * size: the lines of a JSONL file, the pieces of a text file split like the `chunk` task splits a
 * text, or items given by code. Each item has its position (`index`, from 0, over the whole input)
 * and where it came from (`line`, or `start`/`end`); a line that is not an input is an item too,
 * one that fails with its line number. Items a job already has a result for are skipped cheaply
 * (a JSONL line is then not parsed at all).
 */
import { createReadStream } from 'node:fs'
import { ChunkSplitter } from '@p2p-ai/engine'
import type { JsonObject } from '@p2p-ai/protocol'
import { JOB_READ_CHUNK_BYTES, MAX_JOB_LINE_BYTES } from './constants.js'
import { JobInputError } from './errors.js'
import type { JobItem, JobSplit } from './types.js'

/** One item of the input: its task's input, or why it has none. */
export interface SourceItem {
  readonly index: number
  readonly line?: number
  readonly start?: number
  readonly end?: number
  readonly input?: JsonObject
  readonly error?: { readonly code: string; readonly message: string }
}

/** A job's input, read once per run of the job. */
export interface ItemSource {
  /** Items in input order, without those `skip` says are done. */
  items(skip: (index: number) => boolean): AsyncGenerator<SourceItem>
  /** Bytes of the input file read so far (0 for items from code). */
  readonly bytesRead: number
  /** Items in the whole input, once it was read to its end. */
  readonly total: number | undefined
}

/** The lines of a JSONL file: one input per line (an object, or a string for `{ text }`); blank lines are skipped. */
export function jsonlSource(path: string, params: JsonObject | undefined): ItemSource {
  let bytesRead = 0
  let total: number | undefined
  return {
    get bytesRead() {
      return bytesRead
    },
    get total() {
      return total
    },
    async *items(skip) {
      let index = 0
      let line = 0
      let pending: Buffer[] = []
      let pendingBytes = 0
      /** The current line is longer than MAX_JOB_LINE_BYTES: its bytes are dropped until its end. */
      let overlong = false
      const stream = openInput(path)
      const item = (raw: Buffer): SourceItem | undefined => {
        line++
        // A byte order mark is not JSON; editors on some systems write one.
        const bytes =
          line === 1 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw
        if (isBlank(bytes)) return undefined
        const at = index++
        if (skip(at)) return undefined
        return parseLine(bytes, at, line, params)
      }
      const chunks = readAll<Buffer>(stream, path)
      for await (const chunk of chunks) {
        bytesRead += chunk.length
        let from = 0
        for (;;) {
          const nl = chunk.indexOf(10, from)
          if (nl === -1) break
          const piece = chunk.subarray(from, nl)
          from = nl + 1
          if (overlong) {
            overlong = false
            const at = index++
            line++
            if (!skip(at)) yield tooLong(at, line)
            continue
          }
          const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece])
          pending = []
          pendingBytes = 0
          const next = item(bytes)
          if (next !== undefined) yield next
        }
        if (from < chunk.length && !overlong) {
          const rest = chunk.subarray(from)
          pendingBytes += rest.length
          if (pendingBytes > MAX_JOB_LINE_BYTES) {
            overlong = true
            pending = []
            pendingBytes = 0
          } else {
            // A copy: the stream reuses nothing, but a slice would keep the whole chunk alive.
            pending.push(Buffer.from(rest))
          }
        }
      }
      if (overlong) {
        const at = index++
        line++
        if (!skip(at)) yield tooLong(at, line)
      } else if (pendingBytes > 0) {
        const next = item(Buffer.concat(pending))
        if (next !== undefined) yield next
      }
      total = index
    },
  }
}

/** The pieces of a UTF-8 text file, split like the `chunk` task splits a text, each `{ text }`. */
export function splitSource(path: string, split: JobSplit, params: JsonObject | undefined): ItemSource {
  let bytesRead = 0
  let total: number | undefined
  return {
    get bytesRead() {
      return bytesRead
    },
    get total() {
      return total
    },
    async *items(skip) {
      const splitter = new ChunkSplitter({
        ...(split.size === undefined ? {} : { size: split.size }),
        ...(split.overlap === undefined ? {} : { overlap: split.overlap }),
        ...(split.boundary === undefined ? {} : { boundary: split.boundary }),
      })
      const stream = openInput(path, 'utf8')
      let count = 0
      for await (const text of readAll<string>(stream, path)) {
        bytesRead = stream.bytesRead
        for (const chunk of splitter.push(text)) {
          count++
          if (!skip(chunk.index)) yield pieceItem(chunk, params)
        }
      }
      for (const chunk of splitter.end()) {
        count++
        if (!skip(chunk.index)) yield pieceItem(chunk, params)
      }
      total = count
    },
  }
}

/** Items given by code: objects are inputs, strings `{ text }`, anything else fails its item. */
export function itemSource(
  input: Iterable<JobItem> | AsyncIterable<JobItem>,
  params: JsonObject | undefined,
): ItemSource {
  let total: number | undefined
  return {
    bytesRead: 0,
    get total() {
      return total
    },
    async *items(skip) {
      let index = 0
      for await (const value of input as AsyncIterable<unknown>) {
        const at = index++
        if (skip(at)) continue
        yield valueItem(value, at, undefined, params)
      }
      total = index
    },
  }
}

function openInput(path: string, encoding?: 'utf8') {
  return createReadStream(path, {
    highWaterMark: JOB_READ_CHUNK_BYTES,
    ...(encoding === undefined ? {} : { encoding }),
  })
}

/** A read error (missing file, a directory, no permission) as the job's `JobInputError`. */
function inputError(path: string, err: unknown): Error {
  if (err instanceof JobInputError) return err
  return new JobInputError(`cannot read the job's input ${path}: ${(err as Error).message}`, { cause: err })
}

/** The stream's chunks, its errors as `JobInputError`. */
async function* readAll<T>(stream: AsyncIterable<unknown>, path: string): AsyncGenerator<T> {
  try {
    for await (const chunk of stream) yield chunk as T
  } catch (err) {
    throw inputError(path, err)
  }
}

function pieceItem(
  chunk: { index: number; start: number; end: number; text: string },
  params: JsonObject | undefined,
): SourceItem {
  return {
    index: chunk.index,
    start: chunk.start,
    end: chunk.end,
    input: { ...params, text: chunk.text },
  }
}

function parseLine(bytes: Buffer, index: number, line: number, params: JsonObject | undefined): SourceItem {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    return {
      index,
      line,
      error: { code: 'ERR_INVALID_INPUT', message: `line ${line} is not JSON: ${(err as Error).message}` },
    }
  }
  return valueItem(value, index, line, params)
}

function valueItem(
  value: unknown,
  index: number,
  line: number | undefined,
  params: JsonObject | undefined,
): SourceItem {
  const where = line === undefined ? `item ${index}` : `line ${line}`
  const base = line === undefined ? { index } : { index, line }
  if (typeof value === 'string') return { ...base, input: { ...params, text: value } }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return { ...base, input: { ...params, ...(value as JsonObject) } }
  }
  return {
    ...base,
    error: {
      code: 'ERR_INVALID_INPUT',
      message: `${where}: expected a JSON object (the task's input) or a string (its text), got ${describe(value)}`,
    },
  }
}

function tooLong(index: number, line: number): SourceItem {
  return {
    index,
    line,
    error: { code: 'ERR_INVALID_INPUT', message: `line ${line} is longer than ${MAX_JOB_LINE_BYTES} bytes` },
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 32 && b !== 9 && b !== 13) return false
  return true
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}
