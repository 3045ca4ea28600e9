/** The options of `demo run` (what `npm run demo` runs), and the checks across them. */
import { bool, num, str } from '../../args/parse.js'
import type { OptionValues } from '../../args/spec.js'
import { UsageError } from '../../errors.js'
import {
  DEFAULT_RUN_NODES,
  DEFAULT_RUN_TASKS,
  DEFAULT_RUN_TYPES,
  DEMO_TYPES,
  type DemoType,
  MOCK_LATENCY_MS,
} from '../constants.js'

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

/** The options of a `demo run` command line; throws `UsageError` for a combination that cannot work. */
export function runOptions(o: OptionValues): DemoOptions {
  const nodes = num(o, 'nodes') ?? DEFAULT_RUN_NODES
  const tasks = num(o, 'tasks') ?? DEFAULT_RUN_TASKS
  const types = typeList(str(o, 'types'))
  const failover = !bool(o, 'no-failover')
  if (failover) {
    if (nodes < 2) {
      throw new UsageError(
        'failover needs at least 2 agents, one to kill and one to take over its work',
        'use --nodes 2 or more, or --no-failover',
      )
    }
    if (!planHasMock(types, tasks)) {
      throw new UsageError(
        `failover is shown on a mock task (${MOCK_LATENCY_MS / 1000} s of simulated inference, long enough to kill its agent in the middle of it), and --types ${types.join(',')} with --tasks ${tasks} makes none`,
        'include mock in --types (and enough --tasks to reach it), or pass --no-failover',
      )
    }
  }
  return { nodes, tasks, types, failover, json: bool(o, 'json') }
}

function typeList(raw: string | undefined): DemoType[] {
  if (raw === undefined) return [...DEFAULT_RUN_TYPES]
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

function planHasMock(types: readonly DemoType[], tasks: number): boolean {
  const first = types.indexOf('mock')
  return first !== -1 && first < tasks
}
