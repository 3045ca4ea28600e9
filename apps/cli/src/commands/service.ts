/**
 * `node install-service` and `node uninstall-service`: the node as a service of the user's session
 * (daemon/service.ts says what each platform gets).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bool, str } from '../args/parse.js'
import type { Handler, Parsed } from '../args/spec.js'
import { EXIT, LOGS_DIR } from '../constants.js'
import {
  DEFAULT_SERVICE_NAME,
  type ServiceFile,
  type ServicePlatform,
  serviceFile,
  servicePlatformOf,
} from '../daemon/service.js'
import { FileError, UsageError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { locate } from './common.js'

/** The CLI's entry point, which the service runs. */
const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

async function describe(
  parsed: Parsed,
  io: Io,
): Promise<{ file: ServiceFile; platform: ServicePlatform; dataDir: string }> {
  const platform =
    (str(parsed.options, 'platform') as ServicePlatform | undefined) ?? servicePlatformOf(process.platform)
  if (platform === undefined) {
    throw new UsageError(
      `no service manager this command knows on ${process.platform}`,
      'run `node start --detach` at login instead (its watchdog restarts the node after a crash), or give --platform systemd or launchd to write a file for another machine',
    )
  }
  const { dataDir, configFile } = await locate(parsed, io)
  const home = io.env.HOME
  if (home === undefined || home === '')
    throw new UsageError('HOME is not set: the service file goes under it')
  const file = serviceFile({
    platform,
    name: str(parsed.options, 'name') ?? DEFAULT_SERVICE_NAME,
    node: process.execPath,
    bin: BIN,
    dataDir,
    configFile,
    home,
    xdgConfigHome: io.env.XDG_CONFIG_HOME === '' ? undefined : io.env.XDG_CONFIG_HOME,
  })
  return { file, platform, dataDir }
}

const install: Handler = async (parsed, io) => {
  const { file, platform, dataDir } = await describe(parsed, io)
  const existing = await readFile(file.path, 'utf8').catch(() => undefined)
  if (existing !== undefined && existing !== file.content && !bool(parsed.options, 'force')) {
    throw new FileError(
      `${file.path} exists and says something else`,
      'give --force to replace it, or --name to install another one',
    )
  }
  try {
    await mkdir(dirname(file.path), { recursive: true })
    // launchd writes the node's own output there, and does not create directories.
    await mkdir(join(dataDir, LOGS_DIR), { recursive: true, mode: 0o700 })
    await writeFile(file.path, file.content, { mode: 0o644 })
  } catch (err) {
    throw new FileError(`cannot write ${file.path}: ${(err as Error).message}`, undefined, { cause: err })
  }
  if (bool(parsed.options, 'json')) {
    printJson(io, { installed: file.path, platform, dataDir, enable: file.enable })
    return EXIT.OK
  }
  println(io, `${io.out.green('✔')} wrote ${file.path}`)
  println(
    io,
    io.out.dim(
      `It runs the node of ${dataDir} at login and restarts it after a failure. To start it now and at every login:`,
    ),
  )
  for (const command of file.enable) println(io, `  ${command}`)
  return EXIT.OK
}

const uninstall: Handler = async (parsed, io) => {
  const { file, platform } = await describe(parsed, io)
  const existing = await readFile(file.path, 'utf8').catch(() => undefined)
  if (existing !== undefined) {
    try {
      await rm(file.path)
    } catch (err) {
      throw new FileError(`cannot remove ${file.path}: ${(err as Error).message}`, undefined, { cause: err })
    }
  }
  if (bool(parsed.options, 'json')) {
    printJson(io, { removed: existing === undefined ? null : file.path, platform, disable: file.disable })
    return EXIT.OK
  }
  if (existing === undefined) println(io, `nothing to remove: ${file.path} does not exist`)
  else {
    println(io, `${io.out.green('✔')} removed ${file.path}`)
    println(io, io.out.dim('If the service was enabled, also run (the node keeps running until then):'))
    for (const command of file.disable) println(io, `  ${command}`)
  }
  return EXIT.OK
}

export const handlers: Record<string, Handler> = { install, uninstall }
