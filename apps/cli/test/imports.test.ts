import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { BIN, cleanUp, cliEnv, LOCAL_NODE, run, tempHome } from './helpers.js'

const TRACER = fileURLToPath(new URL('./fixtures/trace-imports.mjs', import.meta.url))

afterEach(cleanUp)

/** The modules a command line loads. */
async function modulesOf(args: string[]): Promise<string[]> {
  const home = await tempHome()
  const file = join(home, 'imports.txt')
  // A config that fails validation: `node start` loads the node package, then stops at once.
  await writeFile(join(home, 'bad.yaml'), 'network:\n  maxConnections: -1\n')
  await run(args, { home, env: { NODE_OPTIONS: `--import ${TRACER}`, TRACE_IMPORTS_FILE: file } })
  return (await readFile(file, 'utf8')).trim().split('\n')
}

/**
 * What `@p2p-ai/node/control` may load: its own module, the node's default paths, settings and
 * constants, and the protocol's constants. Nothing else of the node, and nothing of the protocol
 * beyond its constants (its index loads zod).
 */
const LIGHT = [
  'packages/node/dist/control.js',
  'packages/node/dist/config/paths.js',
  'packages/node/dist/config/types.js',
  'packages/node/dist/constants.js',
  'packages/node/dist/resources/pause-reasons.js',
  'packages/protocol/dist/constants.js',
]

describe('client commands stay light', () => {
  it('node status, task list and --help load no libp2p, nothing of the node but its control entry, no engine', async () => {
    for (const args of [
      ['node', 'status'],
      ['task', 'list', '--json'],
      ['--help'],
      ['task', 'submit', '--type', 'mock', '--input', 'x'],
    ]) {
      const modules = await modulesOf(args)
      expect(
        modules.some((m) => m.includes('apps/cli/dist/bin.js')),
        args.join(' '),
      ).toBe(true)
      const heavy = modules.filter(
        (m) =>
          /libp2p|packages\/(node|engine|transport|protocol|identity)\/|onnxruntime|better-sqlite3|pino|zod/.test(
            m,
          ) && !LIGHT.some((light) => m.endsWith(light)),
      )
      expect(heavy, args.join(' ')).toEqual([])
      // The light entry point is what they do use.
      expect(modules.some((m) => m.endsWith('packages/node/dist/control.js'))).toBe(true)
    }
  })

  it('while node start does load them (so the tracer sees what it should)', async () => {
    const modules = await modulesOf(['node', 'start', '--config', 'bad.yaml', '--no-mdns'])
    expect(modules.some((m) => m.endsWith('packages/node/dist/index.js'))).toBe(true)
  })
})

/**
 * What a node loads only on first use: the model runtimes with the first task that needs them,
 * the YAML parser with a config file, each plug-in that is off when it is turned on.
 */
const FIRST_USE = {
  'ONNX Runtime': /onnxruntime-node/,
  sharp: /[/:]sharp([/@]|$)/,
  'llama.cpp': /node-llama-cpp/,
  'the YAML parser': /node_modules\/yaml\/|^cjs:yaml$/,
  'the dashboard': /packages\/dashboard\//,
  'the metrics endpoint': /packages\/metrics\/|prom-client/,
  'content by CID (Helia)': /packages\/content\/|helia|blockstore/,
  'the OTLP exporter': /exporter-trace-otlp/,
  UPnP: /upnp-nat/,
}

describe('an idle node', () => {
  it('node start, with no config file, loads no model runtime, no YAML and no plug-in that is off', async () => {
    const home = await tempHome()
    const file = join(home, 'imports.txt')
    const child = spawn(
      process.execPath,
      [BIN, 'node', 'start', '--data-dir', join(home, 'node'), ...LOCAL_NODE],
      {
        env: cliEnv(home, { NODE_OPTIONS: `--import ${TRACER}`, TRACE_IMPORTS_FILE: file }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      while (!out.includes('Press Ctrl-C to stop.')) {
        if (child.exitCode !== null) throw new Error(`node start exited with ${child.exitCode}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      // Idle a moment: what a node starts in the background after its banner counts too.
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    const modules = (await readFile(file, 'utf8')).trim().split('\n')
    // The tracer saw the node and its model plug-ins registered...
    for (const loaded of [
      'packages/node/dist/index.js',
      'packages/onnx/dist/index.js',
      'packages/llama/dist/index.js',
    ])
      expect(
        modules.some((m) => m.endsWith(loaded)),
        loaded,
      ).toBe(true)
    // ...and none of what waits for its first use.
    for (const [what, pattern] of Object.entries(FIRST_USE))
      expect(
        modules.filter((m) => pattern.test(m)),
        what,
      ).toEqual([])
  }, 90_000)
})
