import { resolve } from 'node:path'
import { bool, list, num, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { BIN_NAME, EXIT, JOB_POLL_MS } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { JobJson, JobStatus, JobSubmitRequest } from '../control/types.js'
import { hintFor } from '../error-policy.js'
import { JobFailedError, UsageError } from '../errors.js'
import { eprintln, type Io, printJson, println } from '../io.js'
import { ago, duration, fields, statusColour, table } from '../term/format.js'
import { jobFigures, jobProgress } from '../term/job-progress.js'
import { connect, sleep } from './common.js'
import { parseValue } from './task-input.js'

const submit: Handler = async (parsed, io) => {
  const o = parsed.options
  const split = str(o, 'split')
  const params: Record<string, unknown> = {}
  for (const param of list(o, 'param')) {
    const eq = param.indexOf('=')
    if (eq <= 0)
      throw new UsageError(`--param must be key=value, got "${param}"`, 'for example: --param model=minilm')
    params[param.slice(0, eq)] = parseValue(param.slice(eq + 1))
  }
  const output = str(o, 'output')
  const timeout = num(o, 'timeout')
  const priority = num(o, 'priority')
  const id = str(o, 'id')
  const order = str(o, 'order') as 'input' | 'completed' | undefined
  const request: JobSubmitRequest = {
    type: str(o, 'type')!,
    // The node reads and writes the files: paths are the caller's, made absolute here.
    input: resolve(io.cwd, str(o, 'input')!),
    ...(output === undefined ? {} : { output: resolve(io.cwd, output) }),
    ...(split === undefined ? {} : { split: parseSplit(split) }),
    ...(Object.keys(params).length === 0 ? {} : { params }),
    ...(order === undefined ? {} : { order }),
    ...(bool(o, 'fail-fast') ? { failFast: true } : {}),
    ...(bool(o, 'overwrite') ? { overwrite: true } : {}),
    ...(id === undefined ? {} : { id }),
    ...(priority === undefined ? {} : { priority }),
    ...(timeout === undefined ? {} : { timeoutMs: Math.round(timeout * 1000) }),
  }
  const { client } = await connect(parsed, io)
  const job = await client.submitJob(request)
  return follow(client, job, io, bool(o, 'detach'), bool(o, 'json'))
}

const resume: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const job = await client.resumeJob(parsed.args[0]!)
  return follow(client, job, io, bool(parsed.options, 'detach'), bool(parsed.options, 'json'))
}

const status: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const job = await client.job(parsed.args[0]!)
  if (bool(parsed.options, 'follow') && job.status === 'RUNNING') {
    return follow(client, job, io, false, bool(parsed.options, 'json'))
  }
  if (bool(parsed.options, 'json')) printJson(io, job)
  else println(io, formatJob(job, io))
  return EXIT.OK
}

const listJobs: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const s = str(o, 'status') as JobStatus | undefined
  const jobs = await client.jobs({ limit: num(o, 'limit') ?? 20, ...(s === undefined ? {} : { status: s }) })
  if (bool(o, 'json')) {
    printJson(io, { jobs })
    return EXIT.OK
  }
  if (jobs.length === 0) {
    println(io, `no jobs yet; run one with \`${BIN_NAME} job submit\``)
    return EXIT.OK
  }
  println(
    io,
    table(
      ['ID', 'TYPE', 'STATUS', 'ITEMS', 'FAILED', 'CREATED'],
      jobs.map((j) => [
        j.id,
        j.type,
        statusColour(j.status, io.out),
        j.items.total === undefined
          ? String(j.items.done + j.items.failed)
          : `${j.items.done + j.items.failed}/${j.items.total}`,
        String(j.items.failed),
        ago(j.createdAt),
      ]),
      io.out,
    ),
  )
  return EXIT.OK
}

const cancel: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const answer = await client.cancelJob(parsed.args[0]!)
  if (bool(parsed.options, 'json')) printJson(io, answer)
  else if (answer.cancelled) {
    println(
      io,
      `${io.out.green('✔')} cancelled job ${answer.job.id} (${answer.job.items.done + answer.job.items.failed} items have a result; \`${BIN_NAME} job resume ${answer.job.id}\` runs the rest)`,
    )
  } else println(io, `job ${answer.job.id} had already ended (${answer.job.status}); nothing to cancel`)
  return EXIT.OK
}

/**
 * Follows a job until it is no longer running, with a progress bar on stderr; Ctrl-C stops
 * following (the job goes on). Exit 0 when every item completed, else `JobFailedError` (exit 4).
 */
async function follow(
  client: ControlClient,
  first: JobJson,
  io: Io,
  detach: boolean,
  json: boolean,
): Promise<number> {
  if (detach) {
    if (json) printJson(io, first)
    else {
      println(io, first.id)
      eprintln(io, io.err.dim(`follow it with \`${BIN_NAME} job status ${first.id} --follow\``))
    }
    return EXIT.OK
  }
  const bar = jobProgress(io.stderr)
  let job = first
  try {
    bar.update(job)
    while (job.status === 'RUNNING') {
      await sleep(JOB_POLL_MS, io.signal)
      job = await client.job(job.id, { signal: io.signal })
      bar.update(job)
    }
  } catch (err) {
    if (io.signal.aborted) {
      bar.done()
      eprintln(
        io,
        `stopped following; the job goes on: \`${BIN_NAME} job status ${job.id} --follow\`, or \`${BIN_NAME} job cancel ${job.id}\``,
      )
    }
    throw err
  }
  bar.done()
  if (json) printJson(io, job)
  else println(io, summary(job))
  if (job.status === 'COMPLETED' && job.items.failed === 0) return EXIT.OK
  const code = job.error?.code
  throw new JobFailedError(
    job.status === 'COMPLETED'
      ? `job ${job.id}: ${job.items.failed} of ${job.items.total ?? job.items.done + job.items.failed} items failed${job.output === undefined ? '' : `; their lines in ${job.output} say why`}`
      : job.status === 'INTERRUPTED'
        ? `job ${job.id} was interrupted: the node stopped; it resumes when the node starts again`
        : `job ${job.id} ${job.status.toLowerCase()}: ${job.error?.message ?? ''}${code === undefined ? '' : ` [${code}]`}`,
    code,
    code === undefined || code === 'ERR_JOB_ITEM_FAILED' ? undefined : hintFor(code, {}),
  )
}

/** `job 3f1c… completed: 10,000 items in 8.2 s (1,220 items/s), 2 failed → out.jsonl` */
function summary(job: JobJson): string {
  const processed = job.items.done + job.items.failed
  const took =
    job.finishedAt !== undefined && job.startedAt !== undefined ? job.finishedAt - job.startedAt : undefined
  const rate = took !== undefined && took > 0 ? ` (${Math.round((processed * 1000) / took)} items/s)` : ''
  return `job ${job.id} ${job.status.toLowerCase()}: ${processed} items${took === undefined ? '' : ` in ${duration(took)}`}${rate}${
    job.items.failed > 0 ? `, ${job.items.failed} failed` : ''
  }${job.output === undefined ? '' : ` → ${job.output}`}`
}

function formatJob(job: JobJson, io: Io): string {
  const rows: Array<[string, string]> = [
    ['id', job.id],
    ['type', job.type],
    ['status', statusColour(job.status, io.out)],
    [
      'input',
      `${job.source.path ?? 'items from code'}${job.source.split === undefined ? '' : ` (split: chunk, size ${job.source.split.size ?? 1000})`}`,
    ],
  ]
  if (job.output !== undefined) rows.push(['output', job.output])
  rows.push(['order', job.order])
  rows.push(['progress', jobFigures(job, job.status === 'RUNNING')])
  rows.push(['created', ago(job.createdAt)])
  if (job.finishedAt !== undefined) rows.push(['finished', ago(job.finishedAt)])
  if (job.error !== undefined) rows.push(['error', `${job.error.message} [${job.error.code}]`])
  if (job.status === 'INTERRUPTED' || job.status === 'CANCELLED' || job.status === 'FAILED')
    rows.push(['next', `\`${BIN_NAME} job resume ${job.id}\` runs the items without a result`])
  return fields(rows, io.out)
}

/** `chunk:size=2000,overlap=100,boundary=sentence` → the node's `JobSplit`. */
export function parseSplit(raw: string): NonNullable<JobSubmitRequest['split']> {
  const [kind, rest = ''] = raw.split(':', 2) as [string, string | undefined]
  if (kind !== 'chunk') {
    throw new UsageError(`--split: unknown kind "${kind}"`, 'for example: --split chunk:size=2000')
  }
  const split: {
    kind: 'chunk'
    size?: number
    overlap?: number
    boundary?: 'paragraph' | 'sentence' | 'word' | 'none'
  } = {
    kind: 'chunk',
  }
  for (const part of rest.split(',').filter((p) => p !== '')) {
    const [key, value = ''] = part.split('=', 2) as [string, string | undefined]
    if (key === 'size' || key === 'overlap') {
      const n = Number(value)
      if (value === '' || !Number.isSafeInteger(n) || n < 0)
        throw new UsageError(`--split: ${key} must be a whole number, got "${value}"`)
      split[key] = n
    } else if (key === 'boundary') {
      if (!['paragraph', 'sentence', 'word', 'none'].includes(value))
        throw new UsageError(`--split: boundary must be paragraph, sentence, word or none, got "${value}"`)
      split.boundary = value as 'paragraph'
    } else throw new UsageError(`--split: unknown setting "${key}"`, 'settings: size, overlap, boundary')
  }
  return split
}

export const handlers: Record<string, Handler> = { submit, status, list: listJobs, cancel, resume }
