import { MAX_PRIORITY, MAX_TIMEOUT_MS, MIN_PRIORITY, MIN_TIMEOUT_MS } from '@p2p-ai/node/control'
import { str } from '../../args/parse.js'
import type { CommandSpec } from '../../args/spec.js'
import { BIN_NAME, JOB_STATUSES } from '../../constants.js'
import { UsageError } from '../../errors.js'
import { jobCmd } from '../loaders.js'
import { JSON_OUT, NODE_LOCATION } from './options.js'

const DETACH = {
  name: 'detach',
  short: 'd',
  kind: 'boolean',
  description: 'print the job id and return at once instead of following the job with a progress bar',
} as const

/** The `job` commands (see ../table.ts). */
export const JOB_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'job submit',
    summary: 'run a task on every line of a JSONL file (or every piece of a split text file)',
    description: [
      'Each line of --input is one input: a JSON object (the task input) or a JSON string (its',
      'text). --split chunk:size=N splits any text file into pieces first, like the chunk task, and',
      'runs the task on each piece. The node sends the items to peers as they have free slots, fails',
      'each over on its own, and writes one result line per item to --output as they arrive:',
      '{"index","line","output"} or {"index","line","error":{"code","message"}}.',
      'A malformed line fails only its item (with its line number), unless --fail-fast.',
      "The job is kept in the node's store: if the node stops or dies, it resumes when it starts",
      `again (or with \`${BIN_NAME} job resume <id>\`), without redoing the items that have a result.`,
      'Ctrl-C stops following; the job goes on.',
      'Exit 4 if an item failed or the job did not complete.',
    ].join('\n'),
    options: [
      {
        name: 'type',
        short: 't',
        kind: 'string',
        value: 'type',
        description: 'task type of every item: embed, mock, chunk...',
      },
      {
        name: 'input',
        short: 'i',
        kind: 'string',
        value: 'path',
        description: 'the input file: JSONL, or any UTF-8 text with --split (read by the node)',
      },
      {
        name: 'output',
        short: 'o',
        kind: 'string',
        value: 'path',
        description:
          'the JSONL file the results go to, one line per item, written as they arrive (written by the node)',
      },
      {
        name: 'split',
        kind: 'string',
        value: 'chunk:size=N[,overlap=N][,boundary=B]',
        description: 'split a text file into pieces of at most N characters first, each piece one item',
      },
      {
        name: 'param',
        kind: 'list',
        value: 'key=value',
        description: "a field added to every item's input, such as model=all-minilm-l6-v2 (repeatable)",
      },
      {
        name: 'order',
        kind: 'string',
        value: 'order',
        choices: ['input', 'completed'],
        default: 'input',
        description: 'write results in input order, or as they complete (never waits for a slow item)',
      },
      { name: 'fail-fast', kind: 'boolean', description: 'stop the job at the first item that fails' },
      { name: 'overwrite', kind: 'boolean', description: 'replace --output if it exists' },
      {
        name: 'id',
        kind: 'string',
        value: 'id',
        description: 'the job id, 8 to 32 of A-Z a-z 0-9 _ - (default: random)',
      },
      {
        name: 'priority',
        kind: 'integer',
        value: 'n',
        min: MIN_PRIORITY,
        max: MAX_PRIORITY,
        description: `priority of every task, ${MIN_PRIORITY} to ${MAX_PRIORITY}`,
      },
      {
        name: 'timeout',
        kind: 'number',
        value: 'seconds',
        min: MIN_TIMEOUT_MS / 1000,
        max: MAX_TIMEOUT_MS / 1000,
        description: "each task's execution time limit per attempt (default: the node's)",
      },
      DETACH,
      ...NODE_LOCATION,
      { ...JSON_OUT, description: 'print the job record as JSON when it ends (or at once with --detach)' },
    ],
    check: (o) => {
      if (str(o, 'type') === undefined)
        throw new UsageError(
          '--type is required',
          `for example: ${BIN_NAME} job submit --type embed --input docs.jsonl --output out.jsonl`,
        )
      if (str(o, 'input') === undefined) throw new UsageError('--input <path> is required')
      if (str(o, 'output') === undefined)
        throw new UsageError('--output <path> is required: the results go there')
    },
    examples: [
      {
        cmd: 'job submit --type embed --input docs.jsonl --output out.jsonl --param model=all-minilm-l6-v2',
        note: 'embed every line of docs.jsonl',
      },
      {
        cmd: 'job submit --type mock --input book.txt --split chunk:size=2000 --output pieces.jsonl',
        note: 'split a big text file and map each piece',
      },
      { cmd: 'job submit --type mock --input docs.jsonl --output out.jsonl --order completed --detach' },
    ],
    load: jobCmd('submit'),
  },
  {
    name: 'job status',
    summary: "show a job's progress: items done and failed, throughput, time left",
    args: [{ name: 'id', description: 'the job id (`job list` shows them)' }],
    options: [
      {
        name: 'follow',
        short: 'f',
        kind: 'boolean',
        description: 'follow a running job with a progress bar until it ends',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'job status 3f1c2a9e0b7d4e11' }, { cmd: 'job status 3f1c2a9e0b7d4e11 --follow' }],
    load: jobCmd('status'),
  },
  {
    name: 'job list',
    summary: 'list jobs, newest first',
    options: [
      {
        name: 'limit',
        short: 'n',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: 1000,
        default: 20,
        description: 'jobs to show',
      },
      {
        name: 'status',
        kind: 'string',
        value: 'status',
        choices: JOB_STATUSES,
        description: 'only jobs with this status',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'job list' }, { cmd: 'job list --status INTERRUPTED' }],
    load: jobCmd('list'),
  },
  {
    name: 'job cancel',
    summary: 'cancel a running or interrupted job (the results so far stay)',
    args: [{ name: 'id', description: 'the job id' }],
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'job cancel 3f1c2a9e0b7d4e11' }],
    load: jobCmd('cancel'),
  },
  {
    name: 'job resume',
    summary: 'run a job that did not complete again, skipping the items that have a result',
    description: [
      'For a job that was interrupted (its node stopped or died, and jobs.resumeOnStart is off),',
      'cancelled, or failed (--fail-fast): the items without a result run, and the output goes on',
      'where it stopped. The input file must be the one the job started with.',
    ].join('\n'),
    args: [{ name: 'id', description: 'the job id' }],
    options: [DETACH, ...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'job resume 3f1c2a9e0b7d4e11' }],
    load: jobCmd('resume'),
  },
]
