import type { CommandSpec, GroupSpec } from '../args/spec.js'
import { DASHBOARD_COMMAND } from './specs/dashboard.js'
import { DEMO_COMMANDS } from './specs/demo.js'
import { JOB_COMMANDS } from './specs/job.js'
import { MODELS_COMMANDS } from './specs/models.js'
import { NODE_COMMANDS } from './specs/node.js'
import { TASK_COMMANDS } from './specs/task.js'

export const GROUPS: readonly GroupSpec[] = [
  { name: 'node', summary: 'run a node and watch it' },
  { name: 'task', summary: 'send tasks to the node and read their results' },
  { name: 'job', summary: 'run a task on every item of a big input, resumably' },
  { name: 'models', summary: 'the ONNX models the node serves' },
  { name: 'demo', summary: 'a small network of nodes on this machine, to try things out' },
]

/**
 * Every command: what the parser accepts, what `--help` and docs/cli.md show, and how to load its
 * implementation. Nothing here imports an implementation. A command of one word (`dashboard`)
 * stands outside the groups.
 */
export const COMMANDS: readonly CommandSpec[] = [
  ...NODE_COMMANDS,
  ...TASK_COMMANDS,
  ...JOB_COMMANDS,
  ...MODELS_COMMANDS,
  ...DEMO_COMMANDS,
  DASHBOARD_COMMAND,
]
