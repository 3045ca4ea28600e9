import type { CommandSpec, OptionSpec } from '../../args/spec.js'
import {
  DEFAULT_NETWORK_NODES,
  DEFAULT_NETWORK_TASKS,
  DEFAULT_RUN_NODES,
  DEFAULT_RUN_TASKS,
  DEFAULT_RUN_TYPES,
  DEMO_TYPES,
  MAX_NETWORK_NODES,
  MAX_RUN_NODES,
  MAX_RUN_TASKS,
} from '../../demo/constants.js'
import { runOptions } from '../../demo/run/options.js'
import { demoCmd } from '../loaders.js'
import { DEMO_DIR, JSON_OUT } from './options.js'

/** How many nodes a demo network has (`demo start`, `demo interactive`). */
const NETWORK_NODES: OptionSpec = {
  name: 'nodes',
  short: 'n',
  kind: 'integer',
  value: 'n',
  min: 1,
  max: MAX_NETWORK_NODES,
  default: DEFAULT_NETWORK_NODES,
  description: 'how many nodes',
}

/** The `demo` commands (see ../table.ts). */
export const DEMO_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'demo run',
    summary:
      'the whole demo, narrated: agents on this machine find each other, share real AI tasks, and recover when one is killed',
    description: [
      'What `npm run demo` runs. Starts --nodes agents (each a `node start` process on 127.0.0.1, mDNS',
      'on the loopback interface, nothing leaves the machine) and a requester in this process, sends',
      'them --tasks tasks of --types, checks every output, kills the agent running a mock task midway',
      '(SIGKILL) to show its work completing elsewhere, stops everything and removes its data. Exit 0',
      'only when everything it shows happened; 1 when something did not (the narration says what).',
      'See docs/demo.md.',
    ].join('\n'),
    options: [
      {
        name: 'nodes',
        short: 'n',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: MAX_RUN_NODES,
        default: DEFAULT_RUN_NODES,
        description: 'agent processes to start',
      },
      {
        name: 'tasks',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: MAX_RUN_TASKS,
        default: DEFAULT_RUN_TASKS,
        description: 'tasks to send',
      },
      {
        name: 'types',
        kind: 'string',
        value: 'list',
        default: DEFAULT_RUN_TYPES.join(','),
        description: `task types, comma-separated, cycled through in order (of ${DEMO_TYPES.join(', ')})`,
      },
      { name: 'no-failover', kind: 'boolean', description: 'do not kill an agent' },
      { ...JSON_OUT, description: 'print a machine-readable report on stdout, and nothing else' },
    ],
    check: (o) => {
      runOptions(o)
    },
    examples: [
      { cmd: 'demo run', note: '4 agents, 20 tasks, one agent killed midway' },
      { cmd: 'demo run --nodes 6 --tasks 40' },
      { cmd: 'demo run --types chunk,embed --no-failover --json', note: 'a report for scripts' },
    ],
    load: demoCmd('run'),
  },
  {
    name: 'demo start',
    summary: 'start N nodes on this machine (loopback only) that find each other',
    description:
      'Each node runs in the background with its own data directory under the demo directory, listens on 127.0.0.1 and discovers the others with mDNS on the loopback interface.',
    options: [NETWORK_NODES, DEMO_DIR, JSON_OUT],
    examples: [{ cmd: 'demo start --nodes 4' }],
    load: demoCmd('start'),
  },
  {
    name: 'demo tasks',
    summary:
      'submit tasks across the demo network and report where they ran, how long they took and whether each output checks out',
    options: [
      {
        name: 'count',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 1000,
        default: DEFAULT_NETWORK_TASKS,
        description: 'how many tasks',
      },
      {
        name: 'type',
        short: 't',
        kind: 'string',
        value: 'type',
        default: 'chunk',
        choices: DEMO_TYPES,
        description: 'task type',
      },
      DEMO_DIR,
      JSON_OUT,
    ],
    examples: [{ cmd: 'demo tasks --count 10 --type chunk' }, { cmd: 'demo tasks --count 10 --type embed' }],
    load: demoCmd('tasks'),
  },
  {
    name: 'demo stats',
    summary: 'nodes online, peer connections and task figures of the demo network',
    options: [DEMO_DIR, JSON_OUT],
    examples: [{ cmd: 'demo stats' }],
    load: demoCmd('stats'),
  },
  {
    name: 'demo stop',
    summary: 'stop every demo node',
    options: [DEMO_DIR, JSON_OUT],
    examples: [{ cmd: 'demo stop' }],
    load: demoCmd('stop'),
  },
  {
    name: 'demo interactive',
    summary: 'start a demo network and drive it from a prompt: submit, peers, stats, kill <node>',
    description:
      'Type `help` at the prompt for its commands. `kill <node>` ends a node abruptly, to watch the others notice and route around it. Leaving prints a summary and stops the nodes.',
    options: [NETWORK_NODES, DEMO_DIR],
    examples: [{ cmd: 'demo interactive --nodes 3' }],
    load: demoCmd('interactive'),
  },
]
