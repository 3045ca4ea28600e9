import { list, num, str } from '../args/parse.js'
import type { CommandSpec, GroupSpec, Handler } from '../args/spec.js'
import { BIN_NAME, DEFAULT_DEMO_NODES, DEFAULT_DEMO_TASKS, DEFAULT_LIST_LIMIT } from '../constants.js'
import { UsageError } from '../errors.js'
import { CONFIG, DATA_DIR, DEMO_DIR, JSON_OUT, NODE_LOCATION } from './options.js'

export const GROUPS: readonly GroupSpec[] = [
  { name: 'node', summary: 'run a node and watch it' },
  { name: 'task', summary: 'send tasks to the node and read their results' },
  { name: 'models', summary: 'the ONNX models the node serves' },
  { name: 'demo', summary: 'a small network of nodes on this machine, to try things out' },
]

const TASK_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED']

// Each `load` imports one module on demand: `node status` never loads the node package or libp2p.
const nodeCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./node.js')).handlers[name]!
}
const taskCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./task.js')).handlers[name]!
}
const modelsCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./models.js')).handlers[name]!
}
const demoCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('../demo/commands.js')).handlers[name]!
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'node start',
    summary: 'run a node, in the foreground (Ctrl-C stops it) or in the background with --detach',
    description: [
      'Settings come from the config file, then P2P_AI_* environment variables, then these options',
      '(see docs/configuration.md). The node writes node.pid, control.json and control.token (mode',
      '0600) to its data directory; other commands find it through them. With --detach it runs in',
      'the background, logging to node.log in the data directory, and this command returns once the',
      'node is ready.',
    ].join('\n'),
    options: [
      {
        name: 'port',
        short: 'p',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        description: 'TCP port to listen on (WebSockets keeps its own port)',
      },
      {
        name: 'listen',
        kind: 'list',
        value: 'multiaddr',
        description: 'listen address, instead of the configured ones (repeatable)',
      },
      CONFIG,
      DATA_DIR,
      {
        name: 'mdns-interface',
        kind: 'string',
        value: 'interface',
        description: 'where mDNS discovery runs: lan, loopback, auto, an interface name or an address',
      },
      { name: 'no-mdns', kind: 'boolean', description: 'no mDNS discovery (bootstrap peers only)' },
      {
        name: 'bootstrap',
        short: 'b',
        kind: 'list',
        value: 'multiaddr',
        description: 'peer to dial at start, ending in /p2p/<peerId> (repeatable)',
      },
      {
        name: 'detach',
        short: 'd',
        kind: 'boolean',
        description: 'run in the background and return once the node is ready',
      },
      {
        name: 'log-level',
        kind: 'string',
        value: 'level',
        choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
        description: 'log level',
      },
      {
        name: 'control-port',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        default: 0,
        description: 'port of the control API on 127.0.0.1; 0 picks a free one',
      },
      { ...JSON_OUT, description: 'with --detach: print the started node as JSON' },
    ],
    check: (o) => {
      if (list(o, 'listen').length > 0 && num(o, 'port') !== undefined) {
        throw new UsageError(
          'give --port or --listen, not both',
          '--listen takes full multiaddrs, such as /ip4/0.0.0.0/tcp/9000',
        )
      }
      if (o['no-mdns'] === true && str(o, 'mdns-interface') !== undefined) {
        throw new UsageError('--no-mdns and --mdns-interface contradict each other')
      }
      if (o.json === true && o.detach !== true) {
        throw new UsageError(
          '--json goes with --detach',
          `in the foreground, ask a running node with \`${BIN_NAME} node status --json\``,
        )
      }
    },
    examples: [
      { cmd: 'node start', note: 'in the foreground, Ctrl-C to stop' },
      { cmd: 'node start --port 9000 --detach', note: 'in the background on TCP port 9000' },
      {
        cmd: 'node start --data-dir ./node-b --listen /ip4/127.0.0.1/tcp/0 --mdns-interface loopback',
        note: 'a second node on this machine',
      },
      {
        cmd: 'node start --no-mdns --bootstrap /ip4/192.168.1.20/tcp/9000/p2p/12D3KooW...',
        note: 'join through a known peer',
      },
    ],
    load: nodeCmd('start'),
  },
  {
    name: 'node stop',
    summary: 'stop the running node gracefully',
    description:
      'Running tasks get until the shutdown deadline (8 s by default) to finish; peers are told goodbye.',
    options: [
      ...NODE_LOCATION,
      {
        name: 'timeout',
        kind: 'number',
        value: 'seconds',
        min: 1,
        default: 20,
        description: 'how long to wait for the node to exit',
      },
      JSON_OUT,
    ],
    examples: [{ cmd: 'node stop' }, { cmd: 'node stop --data-dir ./node-b' }],
    load: nodeCmd('stop'),
  },
  {
    name: 'node status',
    summary: 'show whether the node runs: state, identity, addresses, peers, health, tasks',
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [
      { cmd: 'node status' },
      { cmd: 'node status --json | jq -r .peerId', note: "just the node's PeerId" },
    ],
    load: nodeCmd('status'),
  },
  {
    name: 'node peers',
    summary: 'list the peers the node knows: connected ones and failed ones being redialled',
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'node peers' }, { cmd: 'node peers --json | jq length' }],
    load: nodeCmd('peers'),
  },
  {
    name: 'node monitor',
    summary: 'a live view of the node: state, peers, tasks and throughput, refreshed every few seconds',
    description:
      'On a terminal the view redraws in place; otherwise one line is printed per refresh (JSON lines with --json).',
    options: [
      ...NODE_LOCATION,
      {
        name: 'interval',
        short: 'i',
        kind: 'number',
        value: 'seconds',
        min: 0.2,
        max: 3600,
        default: 2,
        description: 'refresh period',
      },
      {
        name: 'duration',
        kind: 'number',
        value: 'seconds',
        min: 0,
        default: 0,
        description: 'stop after this long; 0 runs until Ctrl-C',
      },
      { ...JSON_OUT, description: 'print one JSON object per refresh' },
    ],
    examples: [{ cmd: 'node monitor' }, { cmd: 'node monitor --interval 2 --duration 30' }],
    load: nodeCmd('monitor'),
  },
  {
    name: 'task submit',
    summary: 'send a task to the node (which may run it or route it to a peer)',
    description: [
      'The input is built from --input (text), --file (a file: text, or for ocr an image) or',
      '--input-json (the whole input object), plus --param key=value for further fields (values are',
      'read as JSON when they parse, e.g. --param size=200). A text becomes { "text": ... }.',
      `Without --wait this prints the task id; follow it with \`${BIN_NAME} task status <id>\`.`,
    ].join('\n'),
    options: [
      {
        name: 'type',
        short: 't',
        kind: 'string',
        value: 'type',
        description:
          'task type: chunk, mock, embed, tokenize, ocr, onnx... (`node status` lists what the node runs)',
      },
      { name: 'input', short: 'i', kind: 'string', value: 'text', description: 'the text to work on' },
      {
        name: 'file',
        short: 'f',
        kind: 'string',
        value: 'path',
        description: 'read the input from a file (- for stdin)',
      },
      { name: 'input-json', kind: 'string', value: 'json', description: 'the whole input as a JSON object' },
      { name: 'param', kind: 'list', value: 'key=value', description: 'a further input field (repeatable)' },
      {
        name: 'target',
        kind: 'string',
        value: 'peerId',
        description: 'run on this peer (`self` for this node)',
      },
      {
        name: 'redundancy',
        short: 'k',
        kind: 'integer',
        value: 'k',
        min: 1,
        max: 16,
        default: 1,
        description: 'run on k peers and compare their results',
      },
      {
        name: 'timeout',
        kind: 'number',
        value: 'seconds',
        min: 0.001,
        description: "the task's execution time limit (default: the node's, 30 s)",
      },
      { name: 'priority', kind: 'integer', value: 'n', description: 'higher runs first (default 0)' },
      {
        name: 'wait',
        short: 'w',
        kind: 'boolean',
        description: 'wait for the result and print it; exit 4 if the task fails',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    check: (o) => {
      if (str(o, 'type') === undefined) {
        throw new UsageError(
          '--type is required',
          `for example: ${BIN_NAME} task submit --type chunk --input "Some text."`,
        )
      }
      const sources = ['input', 'file', 'input-json'].filter((n) => o[n] !== undefined)
      if (sources.length === 0)
        throw new UsageError('give the input with --input <text>, --file <path> or --input-json <json>')
      if (sources.length > 1)
        throw new UsageError(
          `give only one of --input, --file and --input-json (got ${sources.map((s) => `--${s}`).join(' and ')})`,
        )
    },
    examples: [
      { cmd: 'task submit --type mock --input "hello" --wait' },
      {
        cmd: 'task submit --type chunk --file book.txt --param size=500 --wait --json',
        note: 'split a file into chunks of at most 500 characters',
      },
      { cmd: 'task submit --type embed --input "a sentence to embed" --param model=all-minilm-l6-v2 --wait' },
      { cmd: 'task submit --type ocr --file line.png --wait' },
      {
        cmd: 'task submit --type chunk --input-json \'{"text":"One. Two.","size":5}\' --target 12D3KooW...',
        note: 'run on a given peer',
      },
    ],
    load: taskCmd('submit'),
  },
  {
    name: 'task status',
    summary: "show a task's status, timings and where it ran",
    args: [{ name: 'id', description: 'the task id (`task list` shows them)' }],
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'task status 3f1c2a9e-...' }],
    load: taskCmd('status'),
  },
  {
    name: 'task result',
    summary: "print a finished task's output (exit 4 if it failed)",
    args: [{ name: 'id', description: 'the task id' }],
    options: [
      {
        name: 'format',
        kind: 'string',
        value: 'format',
        choices: ['text', 'json'],
        default: 'text',
        description: 'text for people, json for the raw output',
      },
      { name: 'wait', short: 'w', kind: 'boolean', description: 'wait for the task to finish first' },
      ...NODE_LOCATION,
      { ...JSON_OUT, description: 'the same as --format json' },
    ],
    examples: [
      { cmd: 'task result 3f1c2a9e-...' },
      { cmd: 'task result 3f1c2a9e-... --format json | jq .chunks[0].text' },
    ],
    load: taskCmd('result'),
  },
  {
    name: 'task list',
    summary: 'list tasks, newest first',
    options: [
      {
        name: 'limit',
        short: 'n',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 1000,
        default: DEFAULT_LIST_LIMIT,
        description: 'tasks per page',
      },
      { name: 'offset', kind: 'integer', value: 'n', min: 0, default: 0, description: 'tasks to skip' },
      {
        name: 'status',
        kind: 'string',
        value: 'status',
        choices: TASK_STATUSES,
        description: 'only tasks with this status',
      },
      { name: 'type', short: 't', kind: 'string', value: 'type', description: 'only tasks of this type' },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'task list' },
      { cmd: 'task list --limit 20 --offset 20', note: 'the second page' },
      { cmd: 'task list --status FAILED' },
    ],
    load: taskCmd('list'),
  },
  {
    name: 'task cancel',
    summary: 'cancel a queued or running task',
    args: [{ name: 'id', description: 'the task id' }],
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'task cancel 3f1c2a9e-...' }],
    load: taskCmd('cancel'),
  },
  {
    name: 'models list',
    summary: 'list the models: built-in, added and pulled (and what a running node serves)',
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'models list' }],
    load: modelsCmd('list'),
  },
  {
    name: 'models add',
    summary: 'register a local ONNX model (a .onnx file, or a directory with model.onnx and tokenizer.json)',
    description:
      'The model is recorded in models.json in the data directory with its sha256, checked on every load. A running node serves it after a restart.',
    args: [
      { name: 'name', description: 'registry name: lower-case letters, digits, ".", "_" and "-"' },
      { name: 'path', description: 'the .onnx file or the model directory' },
    ],
    options: [
      {
        name: 'task-types',
        kind: 'list',
        value: 'type',
        description:
          'task types it serves (default: inferred: embed, tokenize and onnx with a tokenizer.json, else onnx)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'models add minilm ./all-MiniLM-L6-v2' }, { cmd: 'models add scorer ./scorer.onnx' }],
    load: modelsCmd('add'),
  },
  {
    name: 'models pull',
    summary: 'download a model from the Hugging Face hub (needs the internet)',
    args: [
      {
        name: 'name',
        description:
          'a repository (sentence-transformers/all-MiniLM-L6-v2) or a known short name (all-minilm-l6-v2)',
      },
    ],
    options: [
      {
        name: 'revision',
        kind: 'string',
        value: 'rev',
        default: 'main',
        description: 'branch, tag or commit',
      },
      {
        name: 'endpoint',
        kind: 'string',
        value: 'url',
        default: 'https://huggingface.co',
        env: 'HF_ENDPOINT',
        description: 'a Hugging Face compatible server',
      },
      {
        name: 'as',
        kind: 'string',
        value: 'name',
        description: 'registry name (default: the repository name, lower-cased)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'models pull all-minilm-l6-v2' },
      { cmd: 'models pull sentence-transformers/all-MiniLM-L6-v2 --revision main' },
    ],
    load: modelsCmd('pull'),
  },
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
