import { type Colours, colourAllowed, colours } from './term/colour.js'

/** A stream the CLI writes to. */
export interface OutStream {
  write(text: string): unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

/** Everything a command touches of its process, so tests and the demo can run commands in-process. */
export interface Io {
  readonly stdout: OutStream
  readonly stderr: OutStream
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Colours for stdout and stderr, each on only if that stream is a terminal. */
  readonly out: Colours
  readonly err: Colours
  /** Aborts on Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal
}

export interface IoInit {
  stdout?: OutStream
  stderr?: OutStream
  env?: Readonly<Record<string, string | undefined>>
  cwd?: string
  noColor?: boolean
  signal?: AbortSignal
}

/** An `Io` on the process's own streams (or on the given ones). */
export function createIo(init: IoInit = {}): Io {
  const stdout = init.stdout ?? process.stdout
  const stderr = init.stderr ?? process.stderr
  const env = init.env ?? process.env
  return {
    stdout,
    stderr,
    env,
    cwd: init.cwd ?? process.cwd(),
    out: colours(colourAllowed(stdout, env, init.noColor)),
    err: colours(colourAllowed(stderr, env, init.noColor)),
    signal: init.signal ?? new AbortController().signal,
  }
}

/** Writes a line to stdout. */
export function println(io: Io, text = ''): void {
  io.stdout.write(`${text}\n`)
}

/** Writes a line to stderr. */
export function eprintln(io: Io, text = ''): void {
  io.stderr.write(`${text}\n`)
}

/** Prints a value as pretty JSON on stdout (for `--json`). */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
