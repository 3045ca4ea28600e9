import type { CommandSpec } from '../args/spec.js'
import { DEFAULT_DEMO_NODES, DEFAULT_DEMO_TASKS } from '../constants.js'
import { demoCmd, modelsCmd } from './loaders.js'
import { DEMO_DIR, JSON_OUT, NODE_LOCATION } from './options.js'

/** The `models` and `demo` commands (see table.ts). */
export const MORE_COMMANDS: readonly CommandSpec[] = [
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
