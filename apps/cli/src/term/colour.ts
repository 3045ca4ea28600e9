/** ANSI colours, on only where a person reads them: a terminal, without `NO_COLOR`. */

export interface Colours {
  readonly enabled: boolean
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  cyan(text: string): string
}

type Env = Readonly<Record<string, string | undefined>>

/**
 * Colour for a stream: off when it is not a terminal, when `NO_COLOR` is set to anything
 * (https://no-color.org), when `TERM=dumb`, or with `--no-color`; `FORCE_COLOR` (not `0`) turns it
 * on for a non-terminal, but never overrides `NO_COLOR`.
 */
export function colourAllowed(stream: { isTTY?: boolean }, env: Env, noColorFlag = false): boolean {
  if (noColorFlag) return false
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false'
  if (env.TERM === 'dumb') return false
  return stream.isTTY === true
}

const wrap =
  (enabled: boolean, open: number, close: number) =>
  (text: string): string =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text

export function colours(enabled: boolean): Colours {
  return {
    enabled,
    bold: wrap(enabled, 1, 22),
    dim: wrap(enabled, 2, 22),
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
  }
}

const ANSI_RE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g')

/** Text without ANSI escapes (for measuring width). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, '')
}
