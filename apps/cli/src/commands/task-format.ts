import type { TaskJson } from '../control/types.js'
import type { Colours } from '../term/colour.js'
import { ago, duration, fields, shortId, statusColour } from '../term/format.js'

/** Where a task ran: the peer in its meta, else this node. */
export function ranOn(task: TaskJson): string {
  const peer = task.meta?.peer
  if (peer !== undefined) return shortId(peer)
  const requester = task.meta?.requester
  return requester === undefined ? 'this node' : `this node, for ${shortId(requester)}`
}

export function taskDuration(task: TaskJson): string {
  if (task.startedAt === undefined) return '-'
  return duration((task.finishedAt ?? Date.now()) - task.startedAt)
}

/** `task status` for people. */
export function formatTask(task: TaskJson, c: Colours): string {
  const rows: Array<[string, string]> = [
    ['id', task.id],
    ['type', task.type],
    ['status', statusColour(task.status, c)],
    ['ran on', `${ranOn(task)} ${c.dim(`(${task.backend})`)}`],
    ['queued', `${new Date(task.queuedAt).toISOString()} ${c.dim(`(${ago(task.queuedAt)})`)}`],
  ]
  if (task.startedAt !== undefined) rows.push(['waited', duration(task.startedAt - task.queuedAt)])
  if (task.startedAt !== undefined) rows.push(['ran for', taskDuration(task)])
  if (task.status === 'RUNNING' && task.progress !== undefined) {
    rows.push([
      'progress',
      `${Math.round(task.progress.fraction * 100)} %${task.progress.message === undefined ? '' : ` ${task.progress.message}`}`,
    ])
  }
  if (task.error !== undefined) rows.push(['error', `${c.red(task.error.code)}: ${task.error.message}`])
  if (task.resumed !== undefined)
    rows.push([
      'resumed',
      `${task.resumed}× ${c.dim('(the node stopped without finishing it, and ran it again)')}`,
    ])
  if (task.durable === false)
    rows.push([
      'durable',
      c.yellow(
        'no: not on disk (engine.storeSubmittedTasks off, or the store failed: see the node log); a crash of the node would lose it',
      ),
    ])
  return fields(rows, c)
}

/** A task's output for people: the useful part per task type, JSON for the rest. */
export function formatOutput(task: TaskJson, c: Colours): string {
  const out = task.output as Record<string, unknown> | undefined
  if (out === undefined || out === null || typeof out !== 'object') return JSON.stringify(out, null, 2)
  switch (task.type) {
    case 'chunk': {
      const chunks = out.chunks as
        | Array<{ index: number; start: number; end: number; text: string }>
        | undefined
      if (!Array.isArray(chunks)) break
      const lines = [c.dim(`${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`)]
      for (const ch of chunks)
        lines.push(`${c.bold(`[${ch.index}]`)} ${c.dim(`${ch.start}–${ch.end}`)} ${ch.text}`)
      return lines.join('\n')
    }
    case 'embed': {
      const vectors = out.embeddings as unknown[] | undefined
      if (!Array.isArray(vectors)) break
      const first = vectors[0]
      const preview = Array.isArray(first)
        ? `[${(first as number[])
            .slice(0, 6)
            .map((x) => x.toFixed(4))
            .join(', ')}${first.length > 6 ? ', …' : ''}]`
        : String(first).slice(0, 60)
      return fields(
        [
          ['model', String(out.model)],
          ['vectors', `${vectors.length} × ${String(out.dimensions)} dimensions`],
          [
            'tokens',
            `${String(out.tokens)}${Number(out.truncated) > 0 ? ` (${String(out.truncated)} texts truncated)` : ''}`,
          ],
          ['first', preview],
        ],
        c,
      )
    }
    case 'ocr':
      return `${String(out.text)}\n${c.dim(`confidence ${(Number(out.confidence) * 100).toFixed(1)} %, model ${String(out.model)}`)}`
    case 'generate': {
      const usage = out.usage as { promptTokens?: number; completionTokens?: number } | undefined
      const timings = out.timings as { tokensPerSecond?: number } | undefined
      return `${String(out.text)}\n${c.dim(
        `${String(usage?.completionTokens)} tokens (${String(out.finishReason)}), ${Math.round(Number(timings?.tokensPerSecond))} tokens/s, model ${String(out.model)}`,
      )}`
    }
    case 'mock':
      return `${String(out.text)}\n${c.dim(`${String(out.length)} characters, ${String(out.words)} words, checksum ${String(out.checksum)}`)}`
    default:
      break
  }
  return JSON.stringify(out, null, 2)
}

/** One line of `task list`. */
export function taskRow(task: TaskJson, c: Colours): string[] {
  return [
    task.id,
    task.type,
    statusColour(task.status, c),
    ranOn(task),
    ago(task.queuedAt),
    taskDuration(task),
  ]
}
