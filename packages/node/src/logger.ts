import { createRequire } from 'node:module'
import { type Logger, pino } from 'pino'
import type PinoPretty from 'pino-pretty'
import type { Env } from './config/paths.js'
import type { LogFormat, LogLevel } from './config/types.js'
import { DEFAULT_LOG_LEVEL } from './constants.js'

export type { Logger } from 'pino'

/** How to build the node's logger. */
export interface LoggerInit {
  /** @default 'info' */
  level?: LogLevel
  /**
   * `json` lines, `pretty` text, or `auto`: pretty when the destination is a terminal.
   *
   * @default 'auto'
   */
  format?: LogFormat
  /**
   * File descriptor or stream to write to.
   *
   * @default 2 (stderr)
   */
  destination?: number | NodeJS.WritableStream
  /** For `NO_COLOR`. @default process.env */
  env?: Env
}

/** Whether colour is allowed: never when `NO_COLOR` is set to anything but the empty string (no-color.org). */
export function colourAllowed(env: Env): boolean {
  const noColor = env.NO_COLOR
  return noColor === undefined || noColor === ''
}

function isTerminal(destination: number | NodeJS.WritableStream): boolean {
  if (destination === 2) return process.stderr.isTTY === true
  if (destination === 1) return process.stdout.isTTY === true
  return typeof destination === 'object' && (destination as { isTTY?: boolean }).isTTY === true
}

const require = createRequire(import.meta.url)

/**
 * Creates a pino logger: JSON lines (`time` in ISO 8601, `level` as its name, `msg`, plus the
 * bindings such as `component`, `peerId`, `remotePeer`, `taskId`), or human-readable lines via
 * pino-pretty when writing to a terminal (colour only on a terminal and never with `NO_COLOR`).
 * Writes are synchronous so nothing is lost when the process exits right after a log line.
 */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? DEFAULT_LOG_LEVEL
  const destination = init.destination ?? 2
  const format = init.format ?? 'auto'
  const pretty = format === 'pretty' || (format === 'auto' && isTerminal(destination))
  if (pretty) {
    // Loaded only when used: pretty printing is for terminals, and the JSON path stays lean.
    const build = require('pino-pretty') as typeof PinoPretty
    const stream = build({
      colorize: colourAllowed(init.env ?? process.env) && isTerminal(destination),
      destination,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    })
    return pino({ level }, stream)
  }
  const stream =
    typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination
  return pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  )
}

/** The fields that name the task a log line is about. */
export interface TaskLogFields {
  readonly taskId: string
  /** The W3C trace id of the task's trace, once the task carries one. */
  readonly traceId?: string
}

/**
 * The fields of every log line about one task: its id, and its trace id when it has one. Task
 * log lines take them from here, so the two travel together and a trace id, once tasks carry
 * one, reaches every such line by passing it here.
 */
export function taskLogFields(taskId: string, traceId?: string): TaskLogFields {
  return traceId === undefined ? { taskId } : { taskId, traceId }
}

/** A logger that writes nothing: the default for nodes created in code without a `logger` or `log` option. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/**
 * The node's loggers by component. pino children copy their level at creation, so changing the
 * level at run time (hot reload) must reach every child: this keeps them together.
 */
export class ComponentLoggers {
  readonly root: Logger
  readonly #children = new Map<string, Logger>()

  constructor(root: Logger) {
    this.root = root
  }

  /** The logger of one component, e.g. `network`; bindings: `{ component }`. */
  get(component: string): Logger {
    let child = this.#children.get(component)
    if (child === undefined) {
      child = this.root.child({ component })
      this.#children.set(component, child)
    }
    return child
  }

  setLevel(level: LogLevel): void {
    this.root.level = level
    for (const child of this.#children.values()) child.level = level
  }

  get level(): string {
    return this.root.level
  }
}
