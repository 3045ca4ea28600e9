#!/usr/bin/env node
/**
 * The driver: runs next to one node and drives its control API the way a user's scripts do, with
 * the CLI's own client (`connectToNode`: control.json and the token in the data directory). It
 * survives the node: when the node is killed, stopped or frozen, it finds it again once it is back.
 *
 *   node program.js '{"dataDir": "/tmp/.../requester"}'
 *
 * Commands on stdin and events on stdout, one JSON object per line (protocol.ts). It exits when its
 * stdin closes.
 */
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import { isDeepStrictEqual } from 'node:util'
import { ControlApiError, type ControlClient, connectToNode, type TaskJson } from '@p2p-ai/cli'
import { mockOutput } from '@p2p-ai/engine'
import { Random, words } from '../random.js'
import type { AuditEntry, DriverCommand, DriverEvent, FinalSeen } from './protocol.js'

/** Long-poll length of one wait request. */
const WAIT_MS = 5_000
/** Pause after a failed request before the next try. */
const RETRY_MS = 200
/** How long an audit keeps trying to reach the node. */
const AUDIT_DEADLINE_MS = 60_000

const { dataDir } = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string }

function emit(event: DriverEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

let client: Promise<ControlClient> | undefined
/** The node's client; found again (new port, new token) after the node restarted. */
function api(): Promise<ControlClient> {
  client ??= connectToNode(dataDir).catch((err: unknown) => {
    client = undefined
    throw err
  })
  return client
}

/** Retry on anything but an answer of the node's: a connection refused, a timeout, a dead pid. */
function isAnswer(err: unknown): err is ControlApiError {
  return err instanceof ControlApiError
}

/** Texts of the tasks this driver submitted: what their outputs must say. */
const texts = new Map<string, string>()

function isFinal(status: string): boolean {
  return status !== 'PENDING' && status !== 'QUEUED' && status !== 'RUNNING'
}

function hash(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value) ?? '')
    .digest('hex')
    .slice(0, 16)
}

function judge(task: TaskJson): FinalSeen {
  const text = texts.get(task.id)
  const completed = task.status === 'COMPLETED'
  return {
    id: task.id,
    status: task.status,
    ...(task.error === undefined ? {} : { code: task.error.code }),
    verified: completed && text !== undefined && isDeepStrictEqual(task.output, mockOutput(text)),
    ...(completed ? { output: hash(task.output) } : {}),
    ...(task.finishedAt === undefined ? {} : { finishedAt: task.finishedAt }),
    ...(task.attempts === undefined ? {} : { attempts: task.attempts }),
    ...(task.resumed === undefined ? {} : { resumed: task.resumed }),
    ...(task.meta?.peer === undefined ? {} : { peer: task.meta.peer }),
    ...(task.durable === false ? { notDurable: true as const } : {}),
  }
}

function refused(what: string, err: ControlApiError): void {
  emit({ ev: 'refused', at: Date.now(), what, status: err.status, code: err.code, message: err.message })
}

/** Waits until the task is final, through restarts of the node; reports what it saw. */
async function waitFinal(id: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const c = await api()
      const { task } = await c.request<{ task: TaskJson }>(
        'GET',
        `/tasks/${encodeURIComponent(id)}/wait?timeoutMs=${WAIT_MS}`,
        undefined,
        { timeoutMs: WAIT_MS * 2, signal },
      )
      if (!isFinal(task.status)) continue
      emit({ ev: 'final', at: Date.now(), ...judge(task) })
      return
    } catch (err) {
      if (signal.aborted) return
      if (isAnswer(err)) {
        if (err.status === 404 && err.code === 'ERR_TASK_NOT_FOUND') {
          emit({ ev: 'missing', id, at: Date.now() })
          return
        }
        // 503: the node is stopping; it answers again once it is back.
        if (err.status !== 503) refused(`wait ${id}`, err)
      } else client = undefined
      await sleep(RETRY_MS)
    }
  }
}

/**
 * Submits one task; its id once the node acknowledged it, undefined when it did not. `tries`: how
 * often to try again after a failed connection (a node that just restarted has a new port).
 */
async function submit(
  text: string,
  latencyMs: number,
  fill: boolean,
  tries = 1,
): Promise<string | undefined> {
  for (let n = 1; ; n++) {
    try {
      const c = await api()
      const task = await c.submit({
        type: 'mock',
        input: { text, latencyMs },
        ...(fill ? { target: 'self' } : {}),
      })
      texts.set(task.id, text)
      emit({ ev: 'ack', id: task.id, at: Date.now(), fill })
      return task.id
    } catch (err) {
      // Not acknowledged: the task may exist or not, nobody was promised anything.
      if (isAnswer(err)) {
        if (err.status !== 503) refused('submit', err)
        return undefined
      }
      client = undefined
      if (n >= tries) return undefined
      await sleep(RETRY_MS)
    }
  }
}

let submitting = new AbortController()
let waiting = new AbortController()

async function loop(seed: number, latency: readonly [number, number]): Promise<void> {
  const random = new Random(seed)
  while (!submitting.signal.aborted) {
    const id = await submit(words(random, random.int(2, 8)), random.within(latency), false)
    if (id === undefined) {
      await sleep(RETRY_MS)
      continue
    }
    await waitFinal(id, waiting.signal)
  }
}

async function audit(ids: readonly string[]): Promise<AuditEntry[]> {
  const deadline = Date.now() + AUDIT_DEADLINE_MS
  const one = async (id: string): Promise<AuditEntry> => {
    for (;;) {
      try {
        const task = await (await api()).task(id)
        const j = judge(task)
        return {
          id,
          status: task.status,
          ...(j.code === undefined ? {} : { code: j.code }),
          verified: j.verified,
          ...(j.output === undefined ? {} : { output: j.output }),
        }
      } catch (err) {
        if (isAnswer(err) && err.status === 404) return { id, notFound: true }
        if (!isAnswer(err)) client = undefined
        if (Date.now() > deadline) return { id, unreachable: true }
        await sleep(RETRY_MS)
      }
    }
  }
  const out: AuditEntry[] = []
  // A few at a time: the node serves its clients too.
  for (let i = 0; i < ids.length; i += 16) out.push(...(await Promise.all(ids.slice(i, i + 16).map(one))))
  return out
}

async function withRetry<T>(fn: (c: ControlClient) => Promise<T>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      return await fn(await api())
    } catch (err) {
      if (isAnswer(err) || Date.now() > deadline) throw err
      client = undefined
      await sleep(RETRY_MS)
    }
  }
}

async function handle(command: DriverCommand): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case 'workload':
      submitting = new AbortController()
      waiting = new AbortController()
      for (let i = 0; i < command.clients; i++) void loop(command.seed * 1_000 + i, command.latencyMs)
      return {}
    case 'pause':
      submitting.abort()
      return {}
    case 'halt':
      submitting.abort()
      waiting.abort()
      return {}
    case 'fill': {
      const random = new Random(Date.now())
      const ids = await Promise.all(
        Array.from({ length: command.count }, () => submit(words(random, 3), command.latencyMs, true, 20)),
      )
      for (const id of ids) if (id !== undefined) void waitFinal(id, waiting.signal)
      return { acknowledged: ids.filter((id) => id !== undefined).length }
    }
    case 'audit':
      return { entries: await audit(command.ids) }
    case 'running': {
      const ids: string[] = []
      for (const status of ['PENDING', 'QUEUED', 'RUNNING'] as const) {
        const { tasks } = await withRetry((c) => c.list({ status, limit: 1000 }))
        for (const t of tasks) if (t.meta?.peer === command.peer) ids.push(t.id)
      }
      return { ids }
    }
    case 'status': {
      const status = await withRetry((c) => c.status())
      const peers = await withRetry((c) => c.peers())
      return {
        peerId: status.peerId,
        rssBytes: status.process.rssBytes,
        heapUsedBytes: status.process.heapUsedBytes,
        mockPeers: peers
          .filter((p) => p.status === 'connected' && p.capabilities?.taskTypes.includes('mock') === true)
          .map((p) => p.peerId),
      }
    }
    case 'shutdown':
      await withRetry((c) => c.shutdown())
      return {}
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let command: DriverCommand
  try {
    command = JSON.parse(line) as DriverCommand
  } catch {
    return
  }
  handle(command).then(
    (answer) => emit({ ev: 'reply', req: command.req, at: Date.now(), ok: true, ...answer }),
    (err: unknown) =>
      emit({
        ev: 'reply',
        req: command.req,
        at: Date.now(),
        ok: false,
        error: { code: (err as { code?: string }).code, message: (err as Error).message },
      }),
  )
})
lines.on('close', () => process.exit(0))
emit({ ev: 'ready', at: Date.now() })
