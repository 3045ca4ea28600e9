import { str } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { type ControlClient, connectToNode } from '../control/client.js'
import type { Io } from '../io.js'
import { type DataDirChoice, resolveDataDir } from '../paths.js'

/** The data directory named by `--data-dir` / `--config` / the environment / the default. */
export function locate(parsed: Parsed, io: Io): Promise<DataDirChoice> {
  return resolveDataDir(
    { dataDir: str(parsed.options, 'data-dir'), config: str(parsed.options, 'config') },
    io.env,
    io.cwd,
  )
}

/** A control client for the node of this command line's data directory. */
export async function connect(parsed: Parsed, io: Io): Promise<{ client: ControlClient; dataDir: string }> {
  const { dataDir } = await locate(parsed, io)
  return { client: await connectToNode(dataDir), dataDir }
}

/** Waits `ms`, or less if the signal aborts (then rejects with its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
