import {
  DEFAULT_PRIORITY,
  ENGINE_DEFAULT_TASK_TIMEOUT_MS,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
} from '@p2p-ai/node/control'
import { str } from '../../args/parse.js'
import type { CommandSpec } from '../../args/spec.js'
import { BIN_NAME, DEFAULT_LIST_LIMIT, TASK_STATUSES } from '../../constants.js'
import { UsageError } from '../../errors.js'
import { taskCmd } from '../loaders.js'
import { JSON_OUT, NODE_LOCATION } from './options.js'

/** The `task` commands (see ../table.ts). */
export const TASK_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'task submit',
    summary: 'send a task to the node (which may run it or route it to a peer)',
    description: [
      'The input is built from --input (text), --file (a file: text, or for ocr an image) or',
      '--input-json (the whole input object), plus --param key=value for further fields (values are',
      'read as JSON when they parse, e.g. --param size=200). A text becomes { "text": ... }; for',
      'generate it becomes the user\'s chat message ({ "messages": [...] }), and --input-json',
      '\'{"prompt": ...}\' continues a text as it is instead.',
      `Without --wait this prints the task id; follow it with \`${BIN_NAME} task status <id>\`.`,
      'The id is printed once the node has the task on disk: should the node crash before the task',
      'ends, it runs the task again when it starts (docs/delivery.md).',
    ].join('\n'),
    options: [
      {
        name: 'type',
        short: 't',
        kind: 'string',
        value: 'type',
        description:
          'task type: chunk, mock, embed, tokenize, ocr, onnx, generate... (`node status` lists what the node runs)',
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
        description:
          'run on k distinct nodes the network picks and keep the output more than half agree on (fails with ERR_NO_AGREEMENT otherwise)',
      },
      {
        name: 'timeout',
        kind: 'number',
        value: 'seconds',
        min: MIN_TIMEOUT_MS / 1000,
        max: MAX_TIMEOUT_MS / 1000,
        description: `the task's execution time limit (default: the node's, ${ENGINE_DEFAULT_TASK_TIMEOUT_MS / 1000} s)`,
      },
      {
        name: 'priority',
        kind: 'integer',
        value: 'n',
        min: MIN_PRIORITY,
        max: MAX_PRIORITY,
        default: DEFAULT_PRIORITY,
        description: `higher runs first, ${MIN_PRIORITY} to ${MAX_PRIORITY}`,
      },
      {
        name: 'wait',
        short: 'w',
        kind: 'boolean',
        description: 'wait for the result and print it; exit 4 if the task fails',
      },
      {
        name: 'stream',
        kind: 'boolean',
        description:
          'print the text as it is generated (generate), then exit like --wait; Ctrl-C cancels the task',
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
        cmd: 'task submit --type generate --input "Name three colours." --param maxTokens=64 --stream',
        note: 'a chat model answers, token by token',
      },
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
    description: [
      'A task the node was running when it crashed (or was killed) shows `resumed`: the node ran it',
      'again when it started. A task still running at a graceful `node stop` ends FAILED with',
      'ERR_EXCHANGE_STOPPED.',
    ].join('\n'),
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
]
