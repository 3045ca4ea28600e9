import { existsSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { RESULTS_SCHEMA_VERSION } from './constants.js'
import { InvalidSuiteError, UnknownSuiteError, UsageError } from './errors.js'
import { formatSuite, formatSuiteMarkdown } from './format.js'
import { type MachineInfo, machineInfo } from './machine.js'
import { defineSuite, type RunOptions, runSuite, type Suite, type SuiteResult } from './runner.js'

/** The JSON the CLI writes. */
export interface BenchReport {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION
  createdAt: string
  machine: MachineInfo
  options: { rounds?: number; quick: boolean; filter?: string }
  suites: SuiteResult[]
}

/** Where the CLI finds suites and writes results, and where it prints; overridable for tests. */
export interface MainInit {
  /** Directory of compiled suites (`*.js`). @default `dist/suites` next to this file */
  suitesDir?: string
  /** Directory for default result files. @default `bench-results` at the repository root */
  resultsDir?: string
  stdout?: (text: string) => void
  stderr?: (text: string) => void
  signal?: AbortSignal
}

const USAGE = `usage: pnpm bench [suite...] [options]

Runs the benchmark suites in tools/bench/src/suites (all of them, or those named).

options:
  --rounds N      measured rounds per case (default: each case's own, usually 5)
  --quick         smoke test: at most 2 rounds, 100 ms budgets, minimal warm-up
  --filter TEXT   only cases whose name contains TEXT
  --json FILE     write all results to FILE (default: bench-results/<suite>-<time>.json per suite)
  --markdown      print Markdown tables (for docs/benchmarks/<area>.md) instead of plain text
  --list          list the suites and exit
  -h, --help      show this help`

/** Runs the CLI with `argv` (without node and script); resolves to the process exit code. */
export async function main(argv: readonly string[], init: MainInit = {}): Promise<number> {
  const out = init.stdout ?? ((text: string) => process.stdout.write(`${text}\n`))
  const err = init.stderr ?? ((text: string) => process.stderr.write(`${text}\n`))
  let args: ReturnType<typeof parseCommandLine>
  try {
    args = parseCommandLine(argv)
  } catch (e) {
    err(`${(e as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (args.help) {
    out(USAGE)
    return 0
  }
  const suitesDir = init.suitesDir ?? fileURLToPath(new URL('./suites/', import.meta.url))
  const available = await listSuiteFiles(suitesDir)
  if (args.list) {
    for (const [name, file] of available) {
      const suite = await loadSuite(name, file)
      out(`${name.padEnd(16)} ${suite.description}`)
    }
    return 0
  }
  let selected: Array<[string, string]>
  try {
    selected = selectSuites(available, args.suites)
  } catch (e) {
    err((e as Error).message)
    return 2
  }
  if (selected.length === 0) {
    err(`no suites found in ${suitesDir}; build tools/bench first (pnpm build)`)
    return 2
  }

  const machine = machineInfo(dirname(suitesDir))
  err(
    `machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryMb} MB, Node ${machine.nodeVersion}`,
  )
  const runOptions: RunOptions = { quick: args.quick }
  if (args.rounds !== undefined) runOptions.rounds = args.rounds
  if (args.filter !== undefined) runOptions.filter = args.filter
  if (init.signal !== undefined) runOptions.signal = init.signal
  const reportOptions: BenchReport['options'] = { quick: args.quick }
  if (args.rounds !== undefined) reportOptions.rounds = args.rounds
  if (args.filter !== undefined) reportOptions.filter = args.filter

  const results: SuiteResult[] = []
  let failed = false
  for (const [name, file] of selected) {
    let suite: Suite<unknown>
    try {
      suite = await loadSuite(name, file)
    } catch (e) {
      err(`${name}: ${(e as Error).message}`)
      failed = true
      continue
    }
    err(`running ${name}...`)
    const result = await runSuite(suite, {
      ...runOptions,
      onCase: (c) => err(`  ${c.name}: ${c.error === undefined ? 'done' : `ERROR ${c.error.message}`}`),
    })
    results.push(result)
    out(`\n${args.markdown ? formatSuiteMarkdown(result) : formatSuite(result)}`)
    if (result.error !== undefined || result.cases.some((c) => c.error !== undefined)) failed = true
    if (args.json === undefined) {
      const file = join(init.resultsDir ?? defaultResultsDir(), `${name}-${fileTimestamp(new Date())}.json`)
      await writeReport(file, report(machine, reportOptions, [result]))
      err(`wrote ${file}`)
    }
  }
  if (args.json !== undefined) {
    const file = resolve(args.json)
    await writeReport(file, report(machine, reportOptions, results))
    err(`wrote ${file}`)
  }
  return failed ? 1 : 0
}

interface CommandLine {
  suites: string[]
  rounds?: number
  quick: boolean
  filter?: string
  json?: string
  markdown: boolean
  list: boolean
  help: boolean
}

function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  const { values, positionals } = parsed
  const cmd: CommandLine = {
    suites: positionals,
    quick: values.quick ?? false,
    markdown: values.markdown ?? false,
    list: values.list ?? false,
    help: values.help ?? false,
  }
  if (values.rounds !== undefined) {
    const n = Number(values.rounds)
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`--rounds must be a positive integer, not ${values.rounds}`)
    cmd.rounds = n
  }
  if (values.filter !== undefined) cmd.filter = values.filter
  if (values.json !== undefined) cmd.json = values.json
  return cmd
}

const OPTIONS = {
  rounds: { type: 'string' },
  quick: { type: 'boolean' },
  filter: { type: 'string' },
  json: { type: 'string' },
  markdown: { type: 'boolean' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Suite name → compiled file, from the `*.js` files of `dir` (no registry: adding a file adds a suite). */
export async function listSuiteFiles(dir: string): Promise<Map<string, string>> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw e
  }
  const suites = new Map<string, string>()
  for (const entry of entries.sort()) {
    if (entry.endsWith('.js')) suites.set(basename(entry, '.js'), join(dir, entry))
  }
  return suites
}

function selectSuites(available: Map<string, string>, names: readonly string[]): Array<[string, string]> {
  if (names.length === 0) return [...available]
  const unknown = names.filter((n) => !available.has(n))
  if (unknown.length > 0) {
    throw new UnknownSuiteError(
      `unknown suite${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; available: ${[...available.keys()].join(', ') || '(none)'}`,
    )
  }
  return [...new Set(names)].map((n) => [n, available.get(n)!])
}

async function loadSuite(name: string, file: string): Promise<Suite<unknown>> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  if (mod.default === undefined)
    throw new InvalidSuiteError(`${file} has no default export; export default defineSuite({...})`)
  const suite = defineSuite(mod.default as Suite<unknown>)
  if (suite.name !== name) {
    throw new InvalidSuiteError(
      `${file} defines suite ${JSON.stringify(suite.name)}; its name must equal the file name (${name})`,
    )
  }
  return suite
}

function report(machine: MachineInfo, options: BenchReport['options'], suites: SuiteResult[]): BenchReport {
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    machine,
    options,
    suites,
  }
}

async function writeReport(file: string, data: BenchReport): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`)
}

/** `2025-06-01T12-30-05Z`: sortable and valid in file names everywhere. */
function fileTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-')
}

/** `bench-results/` at the repository root (the directory holding pnpm-workspace.yaml). */
function defaultResultsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return join(dir, 'bench-results')
    const parent = dirname(dir)
    if (parent === dir) return resolve('bench-results')
    dir = parent
  }
}
