import { commandHelp, groupHelp, rootHelp } from './args/help.js'
import { parseCommand, resolveCommand, wantsHelp } from './args/parse.js'
import { COMMANDS, GROUPS } from './commands/table.js'
import { BIN_NAME, EXIT } from './constants.js'
import { explain } from './error-policy.js'
import { CliError, RelayedError } from './errors.js'
import { createIo, eprintln, type Io, type IoInit } from './io.js'
import { CLI_VERSION } from './version.js'

/**
 * Runs one command line (without the binary's name) and returns the exit code. Errors meant for
 * the user are printed as a message and a hint, never a stack trace (set P2P_AI_CLI_DEBUG=1 for
 * one on unexpected errors).
 */
export async function main(argv: readonly string[], init: IoInit = {}): Promise<number> {
  const dashDash = argv.indexOf('--')
  const flags = dashDash === -1 ? argv : argv.slice(0, dashDash)
  const io = createIo({ ...init, noColor: init.noColor ?? flags.includes('--no-color') })
  try {
    return await dispatch(argv, io)
  } catch (err) {
    return report(err, io)
  }
}

async function dispatch(argv: readonly string[], io: Io): Promise<number> {
  const resolved = resolveCommand(argv, GROUPS, COMMANDS)
  if (resolved.kind === 'root') {
    const first = resolved.rest[0]
    if (first === '--version' || first === '-V') {
      io.stdout.write(`${CLI_VERSION}\n`)
      return EXIT.OK
    }
    if (
      first === undefined ||
      wantsHelp(resolved.rest) ||
      (first === '--no-color' && resolved.rest.length === 1)
    ) {
      io.stdout.write(rootHelp(GROUPS, COMMANDS, CLI_VERSION, io.out))
      return EXIT.OK
    }
    const { UsageError } = await import('./errors.js')
    throw new UsageError(
      `unknown option "${first}"; a command comes first`,
      `run \`${BIN_NAME} --help\` to see the commands`,
    )
  }
  if (resolved.kind === 'group') {
    const rest = resolved.rest.filter((a) => a !== '--no-color')
    if (rest.length === 0 || wantsHelp(rest)) {
      io.stdout.write(groupHelp(resolved.group, COMMANDS, io.out))
      return EXIT.OK
    }
    const { UsageError } = await import('./errors.js')
    throw new UsageError(
      `"${BIN_NAME} ${resolved.group.name}" needs a command before its options`,
      `run \`${BIN_NAME} ${resolved.group.name} --help\` to see its commands`,
    )
  }
  if (wantsHelp(resolved.rest)) {
    io.stdout.write(commandHelp(resolved.command, io.out))
    return EXIT.OK
  }
  const parsed = parseCommand(resolved.command, resolved.rest, io.env)
  const handler = await resolved.command.load()
  return handler(parsed, io)
}

/**
 * Prints an error the way a person wants to read it, with the hint of its code (error-policy.ts);
 * returns the exit code. Only an error without a code is called a bug.
 */
export function report(err: unknown, io: Io): number {
  const c = io.err
  if (
    !(err instanceof CliError) &&
    err instanceof Error &&
    (err.name === 'AbortError' || io.signal.aborted)
  ) {
    eprintln(io, c.dim('interrupted'))
    return EXIT.INTERRUPTED
  }
  const e = err as (Error & { code?: unknown }) | undefined
  const { code, exitCode, hint } = explain(err)
  // The CLI's own messages stand alone; a component's error shows its code, to look up or match.
  const foreign = !(err instanceof CliError) || err instanceof RelayedError
  const suffix = code !== undefined && foreign ? ` [${code}]` : ''
  eprintln(io, `${c.red(c.bold('error:'))} ${e?.message ?? String(err)}${suffix}`)
  const debug = io.env.P2P_AI_CLI_DEBUG !== undefined && e?.stack !== undefined
  if (hint !== undefined) eprintln(io, `${c.dim('hint:')} ${hint}`)
  else if (code !== undefined && !debug)
    eprintln(io, `${c.dim('hint:')} run again with P2P_AI_CLI_DEBUG=1 to see where it came from`)
  else if (!debug)
    eprintln(
      io,
      `${c.dim('hint:')} this looks like a bug; run again with P2P_AI_CLI_DEBUG=1 for details and report it`,
    )
  if (debug) eprintln(io, c.dim(e!.stack!))
  return exitCode
}
