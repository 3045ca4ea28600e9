import { bool, num, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { BIN_NAME, DEFAULT_LIST_LIMIT, EXIT } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { TaskJson, TaskStatus } from '../control/types.js'
import { hintFor } from '../error-policy.js'
import { TaskFailedError, TaskNotFinishedError } from '../errors.js'
import { eprintln, type Io, printJson, println } from '../io.js'
import { table } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { connect } from './common.js'
import { formatOutput, formatTask, taskRow } from './task-format.js'
import { buildInput } from './task-input.js'

const submit: Handler = async (parsed, io) => {
  const o = parsed.options
  const type = str(o, 'type')!
  const input = await buildInput(type, o, io.cwd)
  const { client } = await connect(parsed, io)
  const timeout = num(o, 'timeout')
  const target = str(o, 'target')
  const redundancy = num(o, 'redundancy')
  const priority = num(o, 'priority')
  const task = await client.submit({
    type,
    input,
    ...(target === undefined ? {} : { target }),
    ...(redundancy === undefined || redundancy === 1 ? {} : { redundancy }),
    ...(timeout === undefined ? {} : { timeoutMs: Math.round(timeout * 1000) }),
    ...(priority === undefined ? {} : { priority }),
  })
  if (bool(o, 'stream')) return streamTask(client, task, io, bool(o, 'json'))
  if (!bool(o, 'wait')) {
    if (bool(o, 'json')) printJson(io, task)
    else {
      println(io, task.id)
      eprintln(
        io,
        io.err.dim(
          `submitted ${type} task (${task.status}); follow it with \`${BIN_NAME} task status ${task.id}\``,
        ),
      )
    }
    return EXIT.OK
  }
  const done = await waitFor(client, task, io)
  return printResult(done, io, bool(o, 'json') ? 'json-record' : 'text')
}

/** Waits for a task with a spinner on a terminal; Ctrl-C stops waiting (the task goes on). */
async function waitFor(client: ControlClient, task: TaskJson, io: Io): Promise<TaskJson> {
  const label = (t: TaskJson): string =>
    `${t.type} task ${t.id.slice(0, 8)} ${t.status.toLowerCase()}${
      t.progress !== undefined && t.status === 'RUNNING' ? ` ${Math.round(t.progress.fraction * 100)} %` : ''
    }…`
  const spin = spinner(io.stderr, label(task))
  try {
    return await client.wait(task.id, { signal: io.signal, onUpdate: (t) => spin.update(label(t)) })
  } catch (err) {
    if (io.signal.aborted) {
      spin.stop()
      eprintln(io, `stopped waiting; the task goes on: \`${BIN_NAME} task status ${task.id}\``)
    }
    throw err
  } finally {
    spin.stop()
  }
}

/**
 * Prints what the task streams as it comes (a generation's text), then ends as `--wait` does: exit
 * 4 if the task failed. A failover says so on stderr (the text printed so far is dropped: the next
 * node starts again). Ctrl-C cancels the task, not only the watching: the generation stops on
 * whichever node runs it. `--json` prints each event as one JSON line instead.
 */
async function streamTask(client: ControlClient, task: TaskJson, io: Io, json: boolean): Promise<number> {
  /** Whether stdout holds streamed text not ended by a line break. */
  let open = false
  const endLine = (): void => {
    if (open) io.stdout.write('\n')
    open = false
  }
  let end: TaskJson | undefined
  let streamed = false
  try {
    for await (const event of client.stream(task.id, { signal: io.signal })) {
      if (json) {
        io.stdout.write(`${JSON.stringify(event)}\n`)
        if (event.type === 'end') end = event.task
        continue
      }
      if (event.type === 'delta') {
        streamed = true
        io.stdout.write(event.text)
        open = !event.text.endsWith('\n')
      } else if (event.type === 'restart') {
        endLine()
        eprintln(
          io,
          io.err.yellow(
            `↻ ${event.peer.slice(-8)} failed (${event.reason.code}): starting again on another node; the text above is dropped`,
          ),
        )
      } else if (event.type === 'mismatch') {
        endLine()
        eprintln(
          io,
          io.err.yellow('warning: the streamed text differs from the text the node signed; the signed text:'),
        )
        println(io, event.text)
      } else {
        end = event.task
      }
    }
  } catch (err) {
    if (!io.signal.aborted) throw err
    endLine()
    const answer = await client.cancel(task.id).catch(() => undefined)
    eprintln(
      io,
      answer?.cancelled === true
        ? `cancelled task ${task.id}`
        : `stopped; task ${task.id} is ${answer?.task.status ?? 'unknown'}`,
    )
    return EXIT.INTERRUPTED
  }
  endLine()
  // The text is out already: only a failure is left to report (or, for a task that streams no
  // text, its output). A stream that ended without its task (the node stopped mid-stream)
  // reports the task as it is now.
  return printResult(end ?? (await client.task(task.id)), io, streamed || json ? 'none' : 'text')
}

/**
 * Prints a final task: its output (text or JSON, or nothing for `none`) when COMPLETED; otherwise
 * throws `TaskFailedError` (exit 4), after printing the record for `--json`.
 */
function printResult(task: TaskJson, io: Io, format: 'text' | 'json' | 'json-record' | 'none'): number {
  if (task.status === 'PENDING' || task.status === 'QUEUED' || task.status === 'RUNNING') {
    throw new TaskNotFinishedError(
      `task ${task.id} has not finished: it is ${task.status}`,
      `wait for it with \`${BIN_NAME} task result ${task.id} --wait\``,
    )
  }
  if (format === 'json-record') printJson(io, task)
  if (task.status !== 'COMPLETED') {
    const what =
      task.status === 'TIMEOUT' ? 'timed out' : task.status === 'CANCELLED' ? 'was cancelled' : 'failed'
    throw new TaskFailedError(
      `task ${task.id} ${what}: ${task.error?.message ?? task.status}${task.error === undefined ? '' : ` [${task.error.code}]`}`,
      task.error?.code,
      hintFor(task.error?.code, { taskId: task.id, taskType: task.type }),
    )
  }
  if (format === 'json') printJson(io, task.output)
  else if (format === 'text') println(io, formatOutput(task, io.out))
  return EXIT.OK
}

const status: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const task = await client.task(parsed.args[0]!)
  if (bool(parsed.options, 'json')) printJson(io, task)
  else println(io, formatTask(task, io.out))
  return EXIT.OK
}

const result: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  let task = await client.task(parsed.args[0]!)
  if (bool(parsed.options, 'wait')) task = await waitFor(client, task, io)
  const json = bool(parsed.options, 'json') || str(parsed.options, 'format') === 'json'
  return printResult(task, io, json ? 'json' : 'text')
}

const listTasks: Handler = async (parsed, io) => {
  const o = parsed.options
  const { client } = await connect(parsed, io)
  const limit = num(o, 'limit') ?? DEFAULT_LIST_LIMIT
  const offset = num(o, 'offset') ?? 0
  const status = str(o, 'status') as TaskStatus | undefined
  const type = str(o, 'type')
  const page = await client.list({
    limit,
    offset,
    ...(status === undefined ? {} : { status }),
    ...(type === undefined ? {} : { type }),
  })
  if (bool(o, 'json')) {
    printJson(io, page)
    return EXIT.OK
  }
  if (page.tasks.length === 0) {
    println(
      io,
      offset > 0
        ? `no tasks past the first ${offset}`
        : `no tasks yet; submit one with \`${BIN_NAME} task submit\``,
    )
    return EXIT.OK
  }
  println(
    io,
    table(
      ['ID', 'TYPE', 'STATUS', 'RAN ON', 'QUEUED', 'DURATION'],
      page.tasks.map((t) => taskRow(t, io.out)),
      io.out,
    ),
  )
  const more =
    page.tasks.length === limit
      ? `; next page: \`${BIN_NAME} task list --offset ${offset + limit}${limit === DEFAULT_LIST_LIMIT ? '' : ` --limit ${limit}`}\``
      : ''
  println(io, io.out.dim(`tasks ${offset + 1}–${offset + page.tasks.length}, newest first${more}`))
  return EXIT.OK
}

const cancel: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const answer = await client.cancel(parsed.args[0]!)
  if (bool(parsed.options, 'json')) printJson(io, answer)
  else if (answer.cancelled) println(io, `${io.out.green('✔')} cancelled task ${answer.task.id}`)
  else println(io, `task ${answer.task.id} had already finished (${answer.task.status}); nothing to cancel`)
  return EXIT.OK
}

export const handlers: Record<string, Handler> = { submit, status, result, list: listTasks, cancel }
