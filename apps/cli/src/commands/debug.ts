import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { bool, num, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { EXIT } from '../constants.js'
import { analyze, isSnapshot } from '../debug/analyze.js'
import {
  formatAnalysis,
  formatDump,
  formatNetworkTest,
  formatSnapshotSaved,
  formatStress,
} from '../debug/format.js'
import { FileError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { spinner } from '../term/spinner.js'
import { connect } from './common.js'

const snapshot: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const logs = num(o, 'logs')
  const s = await client.snapshot(logs === undefined ? {} : { logs })
  const text = `${JSON.stringify(s, null, 2)}\n`
  const output = str(o, 'output')
  if (output === '-') {
    io.stdout.write(text)
    return EXIT.OK
  }
  const path = resolve(
    io.cwd,
    output ?? `p2p-ai-snapshot-${new Date(s.takenAt).toISOString().replaceAll(':', '-')}.json`,
  )
  await writeNew(path, text)
  const size = Buffer.byteLength(text)
  if (bool(o, 'json')) printJson(io, { path, bytes: size, peerId: s.status.peerId, takenAt: s.takenAt })
  else println(io, formatSnapshotSaved(s, path, size, io.out))
  return EXIT.OK
}

const analyzeHandler: Handler = async (parsed, io) => {
  const o = parsed.options
  const file = str(o, 'file')
  let value: unknown
  if (file === undefined) {
    const { client } = await connect(parsed, io)
    value = await client.snapshot()
  } else {
    const path = resolve(io.cwd, file)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      throw new FileError(
        `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      )
    }
    try {
      value = JSON.parse(text)
    } catch {
      throw new FileError(`${path} is not JSON`, 'give a file written by `p2p-ai-agents debug snapshot`')
    }
    if (!isSnapshot(value)) {
      throw new FileError(
        `${path} is not a snapshot`,
        'give a file written by `p2p-ai-agents debug snapshot`',
      )
    }
  }
  const analysis = analyze(value as Parameters<typeof analyze>[0])
  if (bool(o, 'json')) printJson(io, analysis)
  else println(io, formatAnalysis(analysis, io.out))
  return EXIT.OK
}

const networkTest: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const peer = str(o, 'peer')
  const probeBytes = num(o, 'probe-bytes')
  const result = await spinning(io, 'testing the network…', () =>
    client.networkTest(
      { ...(peer === undefined ? {} : { peer }), ...(probeBytes === undefined ? {} : { probeBytes }) },
      { signal: io.signal },
    ),
  )
  if (bool(o, 'json')) printJson(io, result)
  else println(io, formatNetworkTest(result, io.out))
  return EXIT.OK
}

const stress: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const durationMs = Math.round((num(o, 'duration') ?? 60) * 1000)
  const rate = num(o, 'task-rate') ?? 100
  const input = str(o, 'input-json')
  const target = str(o, 'target')
  const report = await spinning(io, `${rate} tasks/s for ${durationMs / 1000} s…`, () =>
    client.stress(
      {
        durationMs,
        ratePerSecond: rate,
        type: str(o, 'type') ?? 'mock',
        ...(input === undefined ? {} : { input: JSON.parse(input) as Record<string, unknown> }),
        ...(target === undefined ? {} : { target }),
        ...(num(o, 'max-in-flight') === undefined ? {} : { maxInFlight: num(o, 'max-in-flight') as number }),
      },
      { signal: io.signal },
    ),
  )
  if (bool(o, 'json')) printJson(io, report)
  else println(io, formatStress(report, io.out))
  return EXIT.OK
}

const profile: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const durationMs = Math.round((num(o, 'duration') ?? 30) * 1000)
  const output = str(o, 'output')
  const dump = await spinning(io, `profiling the node for ${durationMs / 1000} s…`, () =>
    client.profile(
      { durationMs, ...(output === undefined ? {} : { path: resolve(io.cwd, output) }) },
      { signal: io.signal },
    ),
  )
  if (bool(o, 'json')) printJson(io, dump)
  else
    println(
      io,
      formatDump(
        'a CPU profile',
        dump,
        io.out,
        'open it in Chrome DevTools (Performance panel: Load profile) or VS Code',
      ),
    )
  return EXIT.OK
}

const heapDump: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const output = str(o, 'output')
  const dump = await spinning(io, 'writing a heap snapshot (the node pauses meanwhile)…', () =>
    client.heapDump(output === undefined ? {} : { path: resolve(io.cwd, output) }, { signal: io.signal }),
  )
  if (bool(o, 'json')) printJson(io, dump)
  else
    println(
      io,
      formatDump(
        'a heap snapshot',
        dump,
        io.out,
        "open it in Chrome DevTools (Memory panel: Load); it holds the node's private key: share it with care",
      ),
    )
  return EXIT.OK
}

/** Runs `work` under a spinner on stderr (a terminal only), which stops however it ends. */
async function spinning<T>(io: Io, label: string, work: () => Promise<T>): Promise<T> {
  const spin = spinner(io.stderr, label)
  try {
    return await work()
  } finally {
    spin.stop()
  }
}

/** Writes a file that must not exist yet (a snapshot never replaces another). */
async function writeNew(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new FileError(
      code === 'EEXIST'
        ? `${path} exists already`
        : `cannot write ${path}: ${code ?? (err as Error).message}`,
      code === 'EEXIST' ? 'give another file with --output' : 'check the path and its permissions',
    )
  }
}

export const handlers: Record<string, Handler> = {
  snapshot,
  analyze: analyzeHandler,
  'network-test': networkTest,
  stress,
  profile,
  'heap-dump': heapDump,
}
