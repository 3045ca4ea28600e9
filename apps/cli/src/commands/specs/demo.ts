import type { CommandSpec } from '../../args/spec.js'
import { DEFAULT_DEMO_NODES, DEFAULT_DEMO_TASKS } from '../../constants.js'
import { demoCmd } from '../loaders.js'
import { DEMO_DIR, JSON_OUT } from './options.js'

/** The `demo` commands (see ../table.ts). */
export const DEMO_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'demo start',
    summary: 'start N nodes on this machine (loopback only) that find each other',
    description:
      'Each node runs in the background with its own data directory under the demo directory, listens on 127.0.0.1 and discovers the others with mDNS on the loopback interface.',
    options: [
      {
        name: 'nodes',
        short: 'n',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 16,
        default: DEFAULT_DEMO_NODES,
        description: 'how many nodes',
      },
      DEMO_DIR,
      JSON_OUT,
    ],
    examples: [{ cmd: 'demo start --nodes 4' }],
    load: demoCmd('start'),
  },
  {
    name: 'demo tasks',
    summary: 'submit tasks across the demo network and report where they ran and how long they took',
    options: [
      {
        name: 'count',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 1000,
        default: DEFAULT_DEMO_TASKS,
        description: 'how many tasks',
      },
      {
        name: 'type',
        short: 't',
        kind: 'string',
        value: 'type',
        default: 'chunk',
        description: 'task type (chunk, mock, embed, tokenize...)',
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
    options: [
      {
        name: 'nodes',
        short: 'n',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 16,
        default: DEFAULT_DEMO_NODES,
        description: 'how many nodes',
      },
      DEMO_DIR,
    ],
    examples: [{ cmd: 'demo interactive --nodes 3' }],
    load: demoCmd('interactive'),
  },
]
