/** The command: parse options, run the demo, print the narration or the JSON report, pick the exit code. */
import { HELP, parseDemoArgs } from './args.js'
import { EXIT } from './constants.js'
import { UsageError } from './errors.js'
import { colourFor, narrator, silentNarrator } from './narrate.js'

export interface MainIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
}

/** Runs the demo command; resolves with the exit code. SIGINT and SIGTERM stop it cleanly (130). */
export async function main(
  argv: readonly string[],
  io: MainIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  let options: ReturnType<typeof parseDemoArgs>
  try {
    options = parseDemoArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`error: ${err.message}\nRun with --help to see the options.\n`)
    return EXIT.USAGE
  }
  if (options === 'help') {
    io.stdout.write(`${HELP}\n`)
    return EXIT.OK
  }
  const say = options.json
    ? silentNarrator()
    : narrator((line) => io.stdout.write(line), colourFor(io.stdout, io.env))
  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) return
    io.stderr.write(`\n${sig}: stopping the agents and removing their data…\n`)
    controller.abort(new Error(`interrupted by ${sig}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    // The network stack and ONNX Runtime load here, not for --help or a usage error.
    const { runDemo } = await import('./run.js')
    const report = await runDemo(options, say, controller.signal)
    if (options.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    return report.ok ? EXIT.OK : EXIT.FAILED
  } catch (err) {
    if (controller.signal.aborted) return EXIT.INTERRUPTED
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
