import { EXIT } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { PeerJson, StatusJson } from '../control/types.js'
import { NodeNotRunningError } from '../errors.js'
import { type Io, println } from '../io.js'
import type { Colours } from '../term/colour.js'
import { ago, bytes, duration, shortId, statusColour, table } from '../term/format.js'
import { sleep } from './common.js'

export interface MonitorOptions {
  intervalMs: number
  /** 0: until Ctrl-C. */
  durationMs: number
  json: boolean
}

/** One refresh: the node's status, its peers and the throughput since the previous refresh. */
export interface Sample {
  readonly at: number
  readonly status: StatusJson
  readonly peers: readonly PeerJson[]
  /** Tasks finished per second since the previous sample (0 for the first). */
  readonly throughputPerSec: number
}

function finished(s: StatusJson): number {
  return s.tasks.completed + s.tasks.failed + s.tasks.timedOut + s.tasks.cancelled
}

/**
 * `node monitor`: redraws a view in place on a terminal; elsewhere prints one line (or one JSON
 * object) per refresh, so the output can be logged or piped.
 */
export async function monitor(client: ControlClient, io: Io, options: MonitorOptions): Promise<number> {
  const tty = io.stdout.isTTY === true && !options.json
  const until = options.durationMs > 0 ? Date.now() + options.durationMs : Number.POSITIVE_INFINITY
  let previous: Sample | undefined
  if (tty) io.stdout.write('\u001b[?25l')
  try {
    for (;;) {
      let status: StatusJson
      let peers: PeerJson[]
      try {
        ;[status, peers] = await Promise.all([client.status(), client.peers()])
      } catch (err) {
        if (err instanceof NodeNotRunningError) {
          println(io, `${tty ? '\n' : ''}the node stopped`)
          return EXIT.NOT_RUNNING
        }
        throw err
      }
      const at = Date.now()
      const throughputPerSec =
        previous === undefined
          ? 0
          : ((finished(status) - finished(previous.status)) * 1000) / Math.max(1, at - previous.at)
      const sample: Sample = { at, status, peers, throughputPerSec }
      if (options.json) println(io, JSON.stringify(sample))
      else if (tty) io.stdout.write(`\u001b[H\u001b[2J${render(sample, options, io.out)}\n`)
      else println(io, line(sample))
      previous = sample
      const wait = Math.min(options.intervalMs, until - Date.now())
      if (wait <= 0) return EXIT.OK
      try {
        await sleep(wait, io.signal)
      } catch {
        return EXIT.OK
      }
      if (Date.now() >= until) return EXIT.OK
    }
  } finally {
    if (tty) io.stdout.write('\u001b[?25h')
  }
}

/** The one-line form: `2025-06-01T10:30:45Z ACTIVE peers=2 running=1 queued=0 done=12 failed=0 1.5/s`. */
export function line(s: Sample): string {
  const t = s.status.tasks
  return [
    new Date(s.at).toISOString(),
    s.status.state,
    `peers=${s.status.connectedPeers}`,
    `running=${t.running}`,
    `queued=${t.queued}`,
    `completed=${t.completed}`,
    `failed=${t.failed + t.timedOut}`,
    `cancelled=${t.cancelled}`,
    `throughput=${s.throughputPerSec.toFixed(2)}/s`,
  ].join(' ')
}

/** The full-screen form. */
export function render(s: Sample, options: MonitorOptions, c: Colours): string {
  const st = s.status
  const t = st.tasks
  const lines = [
    `${c.bold('p2p-ai node')} ${shortId(st.peerId)}  ${statusColour(st.state, c)}  up ${duration(st.uptimeMs)}  ${c.dim(
      `refresh ${duration(options.intervalMs)} · Ctrl-C to quit`,
    )}`,
    '',
    `${c.bold('tasks')}   ${c.green(String(t.completed))} completed  ${c.red(String(t.failed + t.timedOut))} failed  ${t.cancelled} cancelled  ${c.cyan(String(t.running))} running  ${t.queued} queued`,
    `${c.bold('rate')}    ${s.throughputPerSec.toFixed(2)} tasks/s ${c.dim(`(${t.submitted} submitted since start)`)}`,
    `${c.bold('health')}  ${st.health === undefined ? '-' : statusColour(st.health.status, c)}   ${c.bold('memory')} ${bytes(st.process.rssBytes)}`,
    '',
    `${c.bold('peers')}   ${st.connectedPeers} connected`,
  ]
  if (s.peers.length > 0) {
    lines.push(
      table(
        ['PEER', 'STATUS', 'RTT', 'LAST SEEN'],
        s.peers.map((p) => [
          shortId(p.peerId),
          statusColour(p.status, c),
          p.rttMs === undefined ? '-' : `${Math.round(p.rttMs)} ms`,
          ago(p.lastSeen, s.at),
        ]),
        c,
      ),
    )
  }
  return lines.join('\n')
}
