/** The demo's command line: options, their checks, and `--help`. */
import { parseArgs } from 'node:util'
import {
  DEFAULT_NODES,
  DEFAULT_TASKS,
  DEMO_TYPES,
  type DemoType,
  MAX_NODES,
  MAX_TASKS,
  MOCK_LATENCY_MS,
} from './constants.js'
import { UsageError } from './errors.js'

export interface DemoOptions {
  /** Agent processes to start. @default 4 */
  readonly nodes: number
  /** Tasks to send. @default 20 */
  readonly tasks: number
  /** Task types of the mix, cycled through in this order. @default mock, chunk, embed, ocr */
  readonly types: readonly DemoType[]
  /** Kill an agent mid-task and show its work completing elsewhere. @default true */
  readonly failover: boolean
  /** Print a JSON report on stdout instead of the narration. @default false */
  readonly json: boolean
}

export const HELP = `Usage: npm run demo -- [options]              (from a fresh clone: installs and builds first)
       pnpm --filter demo start [options]     (after a build)

Starts several p2p-ai agents on this machine, each in its own process, lets them find each other
(mDNS on the loopback interface: nothing leaves the machine), sends them a mix of real AI tasks,
kills one agent in the middle of its work to show the network recovering, and sums it all up.

Options:
  --nodes N        agent processes to start, 1-${MAX_NODES} (default ${DEFAULT_NODES})
  --tasks N        tasks to send, 1-${MAX_TASKS} (default ${DEFAULT_TASKS})
  --types LIST     comma-separated task types, cycled through in order
                   (default ${DEMO_TYPES.join(',')}):
                     mock   simulated inference: ${MOCK_LATENCY_MS / 1000} s, then a checksum of the text
                     chunk  split a text into chunks on sentence boundaries
                     embed  sentence embedding, on a small model built locally
                     ocr    read a line of text from an image (PaddleOCR v4)
  --no-failover    do not kill an agent
  --json           print a machine-readable report on stdout, and nothing else
  -h, --help       show this help

Exit status: 0 when everything the demo shows happened (discovery, every task's verified result,
the failover), 1 when something did not, 2 for a bad option, 130 when interrupted.`

/** The parsed options, or `'help'` for `--help`. Throws `UsageError` for anything else wrong. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (err) {
    throw new UsageError(usageMessage((err as Error).message))
  }
  if (values.help === true) return 'help'
  const nodes = integer('--nodes', values.nodes, DEFAULT_NODES, 1, MAX_NODES)
  const tasks = integer('--tasks', values.tasks, DEFAULT_TASKS, 1, MAX_TASKS)
  const types = typeList(values.types)
  const failover = values['no-failover'] !== true
  if (failover) {
    if (nodes < 2) {
      throw new UsageError(
        `failover needs at least 2 agents, one to kill and one to take over its work; use --nodes 2 or more, or --no-failover`,
      )
    }
    if (!planHasMock(types, tasks)) {
      throw new UsageError(
        `failover is shown on a mock task (${MOCK_LATENCY_MS / 1000} s of simulated inference, long enough to kill its agent in the middle of it), and --types ${types.join(',')} with --tasks ${tasks} makes none; include mock in --types (and enough --tasks to reach it), or pass --no-failover`,
      )
    }
  }
  return { nodes, tasks, types, failover, json: values.json === true }
}

function parse(argv: readonly string[]) {
  // `pnpm start -- --nodes 3` hands the script the `--` too.
  return parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string' },
      tasks: { type: 'string' },
      types: { type: 'string' },
      'no-failover': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

/** node:util's messages, shortened and pointed at --help. */
function usageMessage(message: string): string {
  const unknown = /^Unknown option '([^']+)'/.exec(message)
  if (unknown !== null) return `unknown option ${unknown[1]}`
  const positional = /^Unexpected argument '([^']+)'/.exec(message)
  if (positional !== null)
    return `unexpected argument ${JSON.stringify(positional[1])}: the demo takes options only`
  const missing = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message)
  if (missing !== null) return `${missing[1]} needs a value`
  return message.replace(/\. To specify a positional argument.*$/s, '')
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return n
}

function typeList(raw: string | undefined): DemoType[] {
  if (raw === undefined) return [...DEMO_TYPES]
  const names = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
  if (names.length === 0) throw new UsageError(`--types needs at least one of ${DEMO_TYPES.join(', ')}`)
  const out: DemoType[] = []
  for (const name of names) {
    if (!(DEMO_TYPES as readonly string[]).includes(name)) {
      throw new UsageError(
        `--types: unknown task type ${JSON.stringify(name)}; choose from ${DEMO_TYPES.join(', ')}`,
      )
    }
    if (!out.includes(name as DemoType)) out.push(name as DemoType)
  }
  return out
}

/** The type of the i-th task of a mix. */
export function typeAt(types: readonly DemoType[], index: number): DemoType {
  return types[index % types.length]!
}

function planHasMock(types: readonly DemoType[], tasks: number): boolean {
  const first = types.indexOf('mock')
  return first !== -1 && first < tasks
}
