/**
 * A job's output file: JSONL, one line per result, appended in commits. Its length in the job
 * store is the truth: what lies beyond it (written just before the node died, never committed) is
 * cut off when the job runs again, and those items run again.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { JobOutputError } from './errors.js'

export class JobOutput {
  readonly path: string
  readonly #fd: number
  #bytes: number

  /**
   * Opens `path` for a job that committed `committedBytes` of it so far: a new job creates the
   * file, refusing one that exists unless `overwrite`; a resumed job cuts it back to its committed
   * length. That may be 0 when the file is `owned` (an earlier run of the job created it): a job in
   * input order whose first item had no result yet.
   *
   * @throws {JobOutputError}
   */
  constructor(path: string, committedBytes: number, overwrite: boolean, owned = false) {
    this.path = path
    const resumed = owned || committedBytes > 0
    let fd: number
    try {
      // 'wx' refuses an existing file; 'w' replaces one; 'r+' keeps what the job wrote.
      fd = openSync(path, resumed ? 'r+' : overwrite ? 'w' : 'wx', 0o644)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // Gone with nothing of it committed: nothing is lost, the file starts again.
      if (!resumed || code !== 'ENOENT' || committedBytes > 0) throw outputError(path, committedBytes, err)
      try {
        fd = openSync(path, 'wx', 0o644)
      } catch (again) {
        throw outputError(path, committedBytes, again)
      }
    }
    try {
      const size = fstatSync(fd).size
      if (size < committedBytes) {
        throw new JobOutputError(
          `the output file ${path} is shorter (${size} bytes) than what the job wrote to it (${committedBytes}): it was changed meanwhile`,
        )
      }
      if (size > committedBytes) ftruncateSync(fd, committedBytes)
    } catch (err) {
      closeSync(fd)
      if (err instanceof JobOutputError) throw err
      throw new JobOutputError(`cannot use the output file ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.#fd = fd
    this.#bytes = committedBytes
  }

  /** Bytes in the file: where the next line goes. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * Appends `lines` (each gets its `\n`) in one write and returns where each one is.
   *
   * @throws {JobOutputError} (no space, an I/O error): nothing of it counts as written
   */
  append(lines: readonly string[]): Array<{ offset: number; length: number }> {
    const places: Array<{ offset: number; length: number }> = []
    let at = this.#bytes
    for (const line of lines) {
      const length = Buffer.byteLength(line, 'utf8')
      places.push({ offset: at, length })
      at += length + 1
    }
    // One buffer for the whole commit, encoded once: not one per line and a copy of them all.
    const all = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8')
    try {
      let written = 0
      while (written < all.length) {
        written += writeSync(this.#fd, all, written, all.length - written, this.#bytes + written)
      }
    } catch (err) {
      throw new JobOutputError(`cannot write the output file ${this.path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.#bytes = at
    return places
  }

  close(): void {
    closeSync(this.#fd)
  }
}

/** Reads one result line back from an output file, for `results()`. */
export function readLine(fd: number, offset: number, length: number): string {
  const buffer = Buffer.allocUnsafe(length)
  let read = 0
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, offset + read)
    if (n === 0) break
    read += n
  }
  return buffer.toString('utf8', 0, read)
}

function outputError(path: string, committedBytes: number, err: unknown): JobOutputError {
  const code = (err as NodeJS.ErrnoException).code
  return new JobOutputError(
    code === 'EEXIST'
      ? `the output file ${path} exists already`
      : code === 'ENOENT' && committedBytes > 0
        ? `the output file ${path} the job was writing is gone`
        : `cannot open the output file ${path}: ${(err as Error).message}`,
    { cause: err },
  )
}
