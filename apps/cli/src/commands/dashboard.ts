import { spawn } from 'node:child_process'
import { bool, num } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { EXIT } from '../constants.js'
import { eprintln, printJson, println } from '../io.js'
import { connect } from './common.js'

/** `p2p-ai-agents dashboard`: asks the running node for its dashboard and a one-time login link. */
export const dashboard: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const port = num(parsed.options, 'port')
  const d = await client.dashboard(port === undefined ? {} : { port })
  if (bool(parsed.options, 'json')) {
    printJson(io, d)
  } else {
    const c = io.out
    println(io, `${c.green('✔')} dashboard ${d.started ? 'started at' : 'served at'} ${d.url}`)
    println(io, `  open ${c.bold(d.loginUrl)}`)
    println(io, c.dim('  (the link signs one browser in, once, within an hour; run this again for another)'))
  }
  if (bool(parsed.options, 'open') && !openInBrowser(d.loginUrl)) {
    eprintln(io, io.err.yellow('could not start a browser here: open the link yourself'))
  }
  return EXIT.OK
}

/** Hands a URL to the desktop's own opener; false where there is none. */
function openInBrowser(url: string): boolean {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]]
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' })
    child.on('error', () => {})
    child.unref()
    return child.pid !== undefined
  } catch {
    return false
  }
}
