/** `demo run`: the narration (or `--json`'s report) and the exit code. */
import type { Parsed } from '../../args/spec.js'
import { EXIT } from '../../constants.js'
import { eprintln, type Io } from '../../io.js'
import { narrator, silentNarrator } from './narrate.js'
import { runOptions } from './options.js'
import { runDemo } from './run.js'

export async function runCommand(parsed: Parsed, io: Io): Promise<number> {
  const options = runOptions(parsed.options)
  const say = options.json ? silentNarrator() : narrator((line) => io.stdout.write(line), io.out)
  const onAbort = (): void => {
    eprintln(io, '\nstopping the agents and removing their data…')
  }
  io.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const report = await runDemo(options, say, io)
    if (options.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    return report.ok ? EXIT.OK : EXIT.FAILURE
  } finally {
    io.signal.removeEventListener('abort', onAbort)
  }
}
