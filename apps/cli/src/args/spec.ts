/** The shape of a command: what the parser accepts, what `--help` and docs/cli.md show. */

export type OptionKind = 'string' | 'boolean' | 'integer' | 'number' | 'list'

export interface OptionSpec {
  /** Long name without dashes: `data-dir`. */
  readonly name: string
  /** One-letter alias without the dash. */
  readonly short?: string
  readonly kind: OptionKind
  /** Placeholder of the value in help: `<path>`. */
  readonly value?: string
  readonly description: string
  /** Shown in help as `(default: ...)`; the command applies it. */
  readonly default?: string | number | boolean
  readonly choices?: readonly string[]
  /** Bounds of `integer` and `number` options, inclusive. */
  readonly min?: number
  readonly max?: number
  /** Environment variable that provides the value when the option is absent. */
  readonly env?: string
}

export interface ArgSpec {
  readonly name: string
  readonly description: string
  /** @default true */
  readonly required?: boolean
}

export interface Example {
  /** The command line, without the leading `p2p-ai-agents`. */
  readonly cmd: string
  readonly note?: string
}

/** Parsed values of a command's options, by long name. */
export type OptionValues = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>

export interface Parsed {
  readonly command: CommandSpec
  readonly args: readonly string[]
  readonly options: OptionValues
}

/** A command's implementation: returns the exit code. */
export type Handler = (parsed: Parsed, io: import('../io.js').Io) => Promise<number>

export interface CommandSpec {
  /** Words after the binary's name: `node start`. */
  readonly name: string
  /** One line, lower case, no full stop: what it does. */
  readonly summary: string
  /** Further paragraphs for `--help`. */
  readonly description?: string
  readonly args?: readonly ArgSpec[]
  readonly options?: readonly OptionSpec[]
  readonly examples: readonly Example[]
  /** Checks across options (exactly one of `--input` and `--file`...); throws `UsageError`. */
  readonly check?: (options: OptionValues, args: readonly string[]) => void
  /** Loads the implementation on demand, so one command never pays for another's imports. */
  readonly load: () => Promise<Handler>
}

export interface GroupSpec {
  readonly name: string
  readonly summary: string
}
