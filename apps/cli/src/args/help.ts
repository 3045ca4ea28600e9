import { BIN_NAME, EXIT } from '../constants.js'
import { type Colours, colours } from '../term/colour.js'
import { GLOBAL_OPTIONS } from './parse.js'
import type { CommandSpec, GroupSpec, OptionSpec } from './spec.js'

const PLAIN = colours(false)

/** Exit codes with their meaning, for help and docs. */
export const EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [EXIT.OK, 'success'],
  [EXIT.FAILURE, 'something failed; the message says what'],
  [EXIT.USAGE, 'usage error: unknown command or option, bad value, invalid configuration'],
  [EXIT.NOT_RUNNING, 'no node is running for the data directory'],
  [EXIT.TASK_FAILED, 'the task failed, timed out or was cancelled'],
  [EXIT.INTERRUPTED, 'interrupted (Ctrl-C)'],
]

function optionLabel(o: OptionSpec): string {
  const value = o.kind === 'boolean' ? '' : ` <${o.value ?? o.kind}>`
  const repeat = o.kind === 'list' ? ' ...' : ''
  return `${o.short === undefined ? '    ' : `-${o.short}, `}--${o.name}${value}${repeat}`
}

function optionText(o: OptionSpec): string {
  const extras: string[] = []
  if (o.choices !== undefined) extras.push(`one of: ${o.choices.join(', ')}`)
  if (o.default !== undefined) extras.push(`default: ${String(o.default)}`)
  if (o.env !== undefined) extras.push(`env: ${o.env}`)
  return extras.length === 0 ? o.description : `${o.description} (${extras.join('; ')})`
}

function usageLine(cmd: CommandSpec): string {
  const args = (cmd.args ?? []).map((a) => (a.required === false ? `[${a.name}]` : `<${a.name}>`))
  return [BIN_NAME, cmd.name, ...args, '[options]'].join(' ')
}

/** Help is wrapped to this many columns, terminal or not, so docs/cli.md matches it exactly. */
const HELP_WIDTH = 100

/** Splits `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  lines.push(line)
  return lines
}

function columns(rows: ReadonlyArray<readonly [string, string]>, c: Colours, indent = '  '): string[] {
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2)
  const hang = `\n${indent}${' '.repeat(width)}`
  return rows.map(([label, text]) => {
    const pad = label.length >= width ? hang : ' '.repeat(width - label.length)
    const body = wrap(text, Math.max(30, HELP_WIDTH - indent.length - width)).join(hang)
    return `${indent}${c.bold(label)}${pad}${body}`
  })
}

/** `p2p-ai-agents node start --help`. */
export function commandHelp(cmd: CommandSpec, c: Colours = PLAIN): string {
  const lines = [`${BIN_NAME} ${cmd.name}: ${cmd.summary}`, '', `${c.bold('Usage:')} ${usageLine(cmd)}`]
  if (cmd.description !== undefined) lines.push('', cmd.description)
  if (cmd.args !== undefined && cmd.args.length > 0) {
    lines.push('', c.bold('Arguments:'))
    lines.push(
      ...columns(
        cmd.args.map((a) => [`<${a.name}>`, a.description] as const),
        c,
      ),
    )
  }
  const options = [...(cmd.options ?? []), ...GLOBAL_OPTIONS]
  lines.push('', c.bold('Options:'))
  lines.push(
    ...columns(
      options.map((o) => [optionLabel(o), optionText(o)] as const),
      c,
    ),
  )
  if (cmd.examples.length > 0) {
    lines.push('', c.bold('Examples:'))
    for (const e of cmd.examples) {
      if (e.note !== undefined) lines.push(`  ${c.dim(`# ${e.note}`)}`)
      lines.push(`  $ ${BIN_NAME} ${e.cmd}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** `p2p-ai-agents node --help`. */
export function groupHelp(group: GroupSpec, commands: readonly CommandSpec[], c: Colours = PLAIN): string {
  const mine = commands.filter((cmd) => cmd.name.startsWith(`${group.name} `))
  const lines = [
    `${BIN_NAME} ${group.name}: ${group.summary}`,
    '',
    `${c.bold('Usage:')} ${BIN_NAME} ${group.name} <command> [options]`,
    '',
    c.bold('Commands:'),
    ...columns(
      mine.map((cmd) => [cmd.name.split(' ')[1]!, cmd.summary] as const),
      c,
    ),
    '',
    `Run \`${BIN_NAME} ${group.name} <command> --help\` for a command's options and examples.`,
  ]
  return `${lines.join('\n')}\n`
}

/** `p2p-ai-agents --help`. */
export function rootHelp(
  groups: readonly GroupSpec[],
  commands: readonly CommandSpec[],
  version: string,
  c: Colours = PLAIN,
): string {
  const lines = [
    `${BIN_NAME} ${version}: run a p2p-ai node, send it AI tasks, manage models, try a local network`,
    '',
    `${c.bold('Usage:')} ${BIN_NAME} <group> <command> [options]`,
  ]
  for (const g of groups) {
    lines.push('', `${c.bold(g.name)}: ${g.summary}`)
    lines.push(
      ...columns(
        commands
          .filter((cmd) => cmd.name.startsWith(`${g.name} `))
          .map((cmd) => [cmd.name, cmd.summary] as const),
        c,
      ),
    )
  }
  // A command of one word reads like a group of its own.
  for (const cmd of commands.filter((x) => !x.name.includes(' '))) {
    lines.push('', `${c.bold(cmd.name)}: ${cmd.summary}`)
  }
  lines.push(
    '',
    c.bold('Options:'),
    ...columns(
      [
        ['-h, --help', 'show help (also after any command)'],
        ['-V, --version', 'show the version'],
      ],
      c,
    ),
    '',
    c.bold('Exit codes:'),
    ...columns(
      EXIT_CODES.map(([code, text]) => [String(code), text] as const),
      c,
    ),
    '',
    c.bold('Getting started:'),
    `  $ ${BIN_NAME} node start --detach     # run a node in the background`,
    `  $ ${BIN_NAME} task submit --type chunk --input "Some long text." --wait`,
    `  $ ${BIN_NAME} demo interactive --nodes 3`,
    '',
    `Run \`${BIN_NAME} <group> <command> --help\` for a command's options and examples.`,
  )
  return `${lines.join('\n')}\n`
}
