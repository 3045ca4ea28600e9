import { parseArgs } from 'node:util'
import { BIN_NAME } from '../constants.js'
import { UsageError } from '../errors.js'
import type { CommandSpec, GroupSpec, OptionSpec, OptionValues, Parsed } from './spec.js'
import { closest } from './suggest.js'

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'help', short: 'h', kind: 'boolean', description: 'show this help' },
  { name: 'no-color', kind: 'boolean', description: 'no colours, even on a terminal (as does NO_COLOR=1)' },
]

/** What the words of a command line name. */
export type Resolved =
  | { readonly kind: 'command'; readonly command: CommandSpec; readonly rest: readonly string[] }
  | { readonly kind: 'group'; readonly group: GroupSpec; readonly rest: readonly string[] }
  | { readonly kind: 'root'; readonly rest: readonly string[] }

/** Finds the command named by the leading words of `argv`; throws `UsageError` for unknown words. */
export function resolveCommand(
  argv: readonly string[],
  groups: readonly GroupSpec[],
  commands: readonly CommandSpec[],
): Resolved {
  const first = argv[0]
  if (first === undefined || first.startsWith('-')) return { kind: 'root', rest: argv }
  const single = commands.find((c) => c.name === first)
  if (single !== undefined) return { kind: 'command', command: single, rest: argv.slice(1) }
  const group = groups.find((g) => g.name === first)
  if (group === undefined) {
    const guess = closest(first, [
      ...groups.map((g) => g.name),
      ...commands.filter((c) => !c.name.includes(' ')).map((c) => c.name),
    ])
    throw new UsageError(
      `unknown command "${first}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
      `run \`${BIN_NAME} --help\` to see the commands`,
    )
  }
  const second = argv[1]
  if (second === undefined || second.startsWith('-')) return { kind: 'group', group, rest: argv.slice(1) }
  const command = commands.find((c) => c.name === `${first} ${second}`)
  if (command === undefined) {
    const names = commands.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]!)
    const guess = closest(second, names)
    throw new UsageError(
      `unknown command "${first} ${second}"${guess === undefined ? '' : `; did you mean "${first} ${guess}"?`}`,
      `run \`${BIN_NAME} ${first} --help\` to see its commands`,
    )
  }
  return { kind: 'command', command, rest: argv.slice(2) }
}

/** Whether the words ask for help (`-h`/`--help` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
  }
  return false
}

/** Parses a command's options and arguments; throws `UsageError` naming what is wrong. */
export function parseCommand(command: CommandSpec, rest: readonly string[], env: OptionEnv = {}): Parsed {
  const specs = [...(command.options ?? []), ...GLOBAL_OPTIONS]
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {}
  for (const o of specs) {
    config[o.name] = {
      type: o.kind === 'boolean' ? 'boolean' : 'string',
      ...(o.short === undefined ? {} : { short: o.short }),
      ...(o.kind === 'list' ? { multiple: true } : {}),
    }
  }
  const help = `run \`${BIN_NAME} ${command.name} --help\` for its options`
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>
  let positionals: string[]
  try {
    const result = parseArgs({ args: [...rest], options: config, strict: true, allowPositionals: true })
    values = result.values
    positionals = result.positionals
  } catch (err) {
    throw translateParseError(err as Error & { code?: string }, command, specs, help)
  }
  const options: Record<string, string | number | boolean | readonly string[] | undefined> = {}
  for (const o of specs) {
    const raw = values[o.name]
    const fromEnv = raw === undefined && o.env !== undefined ? env[o.env] : undefined
    const value = raw ?? (fromEnv === '' ? undefined : fromEnv)
    options[o.name] = value === undefined ? undefined : convert(o, value, help)
  }
  const argSpecs = command.args ?? []
  const required = argSpecs.filter((a) => a.required !== false).length
  if (positionals.length < required) {
    const missing = argSpecs[positionals.length]!
    throw new UsageError(`missing <${missing.name}>: ${missing.description}`, help)
  }
  if (positionals.length > argSpecs.length) {
    const extra = positionals[argSpecs.length]!
    throw new UsageError(
      argSpecs.length === 0
        ? `"${BIN_NAME} ${command.name}" takes no arguments, got "${extra}"`
        : `unexpected argument "${extra}"`,
      help,
    )
  }
  command.check?.(options, positionals)
  return { command, args: positionals, options }
}

/** Environment variables that may supply option values. */
export type OptionEnv = Readonly<Record<string, string | undefined>>

function convert(
  o: OptionSpec,
  value: string | boolean | (string | boolean)[],
  help: string,
): string | number | boolean | readonly string[] {
  if (o.kind === 'boolean') return value === true || value === 'true'
  if (o.kind === 'list') return (Array.isArray(value) ? value : [value]).map(String)
  const text = String(value)
  if (o.kind === 'integer' || o.kind === 'number') {
    const n = Number(text)
    const ok = text.trim() !== '' && Number.isFinite(n) && (o.kind === 'number' || Number.isInteger(n))
    const range =
      o.min !== undefined && o.max !== undefined
        ? ` between ${o.min} and ${o.max}`
        : o.min !== undefined
          ? ` of at least ${o.min}`
          : o.max !== undefined
            ? ` of at most ${o.max}`
            : ''
    const what = `${o.kind === 'integer' ? 'an integer' : 'a number'}${range}`
    if (!ok || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
      throw new UsageError(`--${o.name} must be ${what}, got "${text}"`, help)
    }
    return n
  }
  if (o.choices !== undefined && !o.choices.includes(text)) {
    throw new UsageError(`--${o.name} must be one of ${o.choices.join(', ')}, got "${text}"`, help)
  }
  return text
}

function translateParseError(
  err: Error & { code?: string },
  command: CommandSpec,
  specs: readonly OptionSpec[],
  help: string,
): Error {
  const message = err.message
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message
    const name = option.replace(/^-+/, '').split('=')[0]!
    const guess = closest(
      name,
      specs.map((s) => s.name),
    )
    return new UsageError(
      `unknown option "${option}" for "${command.name}"${guess === undefined ? '' : `; did you mean "--${guess}"?`}`,
      help,
    )
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const long = /--([\w-]+)/.exec(message)?.[1]
    const short = /'-(\w)[,' ]/.exec(message)?.[1]
    const spec = specs.find((s) => (long !== undefined ? s.name === long : s.short === short))
    if (spec?.kind === 'boolean') return new UsageError(`--${spec.name} takes no value`, help)
    if (spec !== undefined) {
      return new UsageError(
        `--${spec.name} needs a value${spec.value === undefined ? '' : ` (${spec.value})`}`,
        `${help}; a value starting with "-" is written --${spec.name}=-value`,
      )
    }
    return new UsageError(message, help)
  }
  if (err.code?.startsWith('ERR_PARSE_ARGS') === true) return new UsageError(message, help)
  return err
}

/** Typed accessors for parsed option values. */
export function str(options: OptionValues, name: string): string | undefined {
  const v = options[name]
  return typeof v === 'string' ? v : undefined
}

export function num(options: OptionValues, name: string): number | undefined {
  const v = options[name]
  return typeof v === 'number' ? v : undefined
}

export function bool(options: OptionValues, name: string): boolean {
  return options[name] === true
}

export function list(options: OptionValues, name: string): readonly string[] {
  const v = options[name]
  return Array.isArray(v) ? (v as readonly string[]) : []
}
