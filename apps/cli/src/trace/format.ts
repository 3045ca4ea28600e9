/** `task trace` for people: the timeline as a tree with bars, then where the time went. */
import type { Colours } from '../term/colour.js'
import { table } from '../term/format.js'
import { shortPeer, type Timeline } from './timeline.js'

/** Width of the bars, in characters. */
const BAR = 24

const msText = (ms: number): string => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`)

export function formatTimeline(t: Timeline, c: Colours): string {
  const lines: string[] = []
  const nodes = t.nodes.length
  lines.push(
    `${c.bold(`trace ${t.traceId}`)}${t.taskId === undefined ? '' : ` · task ${t.taskId}`} · ${msText(t.totalMs)} · ${nodes} node${nodes === 1 ? '' : 's'} · ${t.rows.length} spans`,
  )
  lines.push('')
  const rows = t.rows.map((r) => {
    // A node whose clock runs behind can start before the trace: its bar starts at the left edge.
    const from = t.totalMs === 0 ? 0 : Math.max(0, Math.floor((r.offsetMs / t.totalMs) * BAR))
    const width = t.totalMs === 0 ? BAR : Math.max(1, Math.round((r.durationMs / t.totalMs) * BAR))
    const bar = `${' '.repeat(Math.min(BAR - 1, from))}${'█'.repeat(Math.min(width, BAR - Math.min(BAR - 1, from)))}`
    const label = `${'  '.repeat(r.depth)}${r.label}`
    const failed = r.span.status === 'error'
    return [
      `+${msText(r.offsetMs)}`,
      msText(r.durationMs),
      r.node,
      failed ? c.red(label) : label,
      c.dim(bar.padEnd(BAR)),
    ]
  })
  lines.push(table(['START', 'DURATION', 'NODE', 'SPAN', 'TIMELINE'], rows, c))
  lines.push('')
  lines.push(c.bold('nodes'))
  lines.push(
    table(
      ['NODE', 'PEER', 'SPANS', 'OWN', 'QUEUE', 'RUN'],
      t.nodes.map((n) => [
        n.name,
        `${shortPeer(n.peerId)}${n.self ? c.dim(' (this node)') : ''}`,
        msText(n.spanMs),
        msText(n.ownMs),
        n.queueMs === 0 && n.runMs === 0 ? '-' : msText(n.queueMs),
        n.queueMs === 0 && n.runMs === 0 ? '-' : msText(n.runMs),
      ]),
      c,
    ),
  )
  if (t.hops.length > 0) {
    lines.push('')
    lines.push(c.bold('hops'))
    lines.push(
      table(
        ['HOP', 'SPANS', 'NETWORK', 'OUT / BACK'],
        t.hops.map((h) => [
          `${h.from} → ${h.to}`,
          h.via,
          msText(h.networkMs),
          h.outMs === undefined || h.backMs === undefined
            ? c.dim('clocks differ')
            : `${msText(h.outMs)} / ${msText(h.backMs)}`,
        ]),
        c,
      ),
    )
  }
  if (t.missing.length > 0) {
    lines.push('')
    lines.push(
      c.yellow(
        `no spans from ${t.missing.map(shortPeer).join(', ')}: below protocol minor 3, gone, or too slow to answer`,
      ),
    )
  }
  lines.push(
    c.dim(
      'OWN: time spent on the node, not waiting on the next one; NETWORK: a hop both ways (each node times on its own clock)',
    ),
  )
  return lines.join('\n')
}
