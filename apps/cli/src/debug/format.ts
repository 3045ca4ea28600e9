/** The debug tools' reports, for people (`--json` prints the objects as they are). */
import type { DumpJson, NetworkTestJson, SnapshotJson, StressReportJson } from '../control/debug-types.js'
import type { Colours } from '../term/colour.js'
import { bytes, duration, fields, shortId, table } from '../term/format.js'
import type { Analysis } from './analyze.js'

export function formatSnapshotSaved(s: SnapshotJson, path: string, size: number, c: Colours): string {
  return [
    `${c.green('✔')} wrote a snapshot of node ${shortId(s.status.peerId)} to ${path} ${c.dim(`(${bytes(size)})`)}`,
    fields(
      [
        ['state', `${s.status.state}${s.status.ready ? ', ready' : ', not ready'}`],
        ['peers', `${s.status.connectedPeers} connected, ${s.peers.length - s.status.connectedPeers} failed`],
        [
          'log lines',
          `${s.logs.lines.length}${s.logs.dropped > 0 ? c.dim(` (${s.logs.dropped} older ones not kept)`) : ''}`,
        ],
        [
          'metrics',
          s.metrics.format === 'prometheus' ? 'Prometheus exposition' : `counters (${s.metrics.note})`,
        ],
        ['secrets', 'redacted from the configuration'],
      ],
      c,
    ),
    c.dim(`Look it over with \`p2p-ai-agents debug analyze --file ${path}\`.`),
  ].join('\n')
}

export function formatAnalysis(a: Analysis, c: Colours): string {
  const lines = [
    `${c.bold('analysis')} of node ${shortId(a.peerId)} ${c.dim(`(snapshot of ${new Date(a.takenAt).toISOString()})`)}`,
  ]
  if (a.findings.length === 0) {
    lines.push(`${c.green('✔')} nothing looks wrong ${c.dim(`(${a.passed.length} checks)`)}`)
    return lines.join('\n')
  }
  for (const f of a.findings) {
    const mark =
      f.severity === 'critical'
        ? c.red('✘ critical')
        : f.severity === 'warning'
          ? c.yellow('! warning ')
          : c.cyan('i info    ')
    lines.push(`${mark}  ${c.bold(f.title)} ${c.dim(`[${f.id}]`)}`)
    lines.push(`            ${f.evidence}`)
    lines.push(`            ${c.dim('→')} ${f.advice}`)
  }
  lines.push(c.dim(`${a.passed.length} other checks found nothing`))
  return lines.join('\n')
}

export function formatNetworkTest(n: NetworkTestJson, c: Colours): string {
  const lines = [
    fields(
      [
        ['node', n.self.peerId],
        [
          'reachability',
          `${n.self.reachability}${n.self.relays.length > 0 ? `, reserved on ${n.self.relays.length} relay(s)` : ''}`,
        ],
        [
          'addresses',
          n.self.addresses.map((a) => `${a.address} ${c.dim(a.scope)}`).join(`\n${' '.repeat(14)}`) ||
            c.dim('none'),
        ],
        ['protocol', `minor ${n.self.protocolMinor}`],
      ],
      c,
    ),
    '',
  ]
  if (n.peers.length === 0) {
    lines.push('no connected peer to test')
    return lines.join('\n')
  }
  lines.push(
    table(
      ['PEER', 'CONNECTION', 'RTT (MIN / MEDIAN / MAX)', 'THROUGHPUT', 'MINOR', 'AGENT'],
      n.peers.map((p) => [
        shortId(p.peerId),
        p.connection === undefined ? '-' : `${p.connection.kind}${p.connection.limited ? ' (limited)' : ''}`,
        p.rtt === undefined
          ? c.red('no answer')
          : `${p.rtt.minMs.toFixed(1)} / ${p.rtt.medianMs.toFixed(1)} / ${p.rtt.maxMs.toFixed(1)} ms`,
        p.throughput === undefined ? c.dim('-') : `${bytes(p.throughput.bytesPerSecond)}/s`,
        String(p.protocolMinor),
        p.agentVersion ?? '-',
      ]),
      c,
    ),
  )
  for (const p of n.peers)
    for (const problem of p.problems) lines.push(c.yellow(`${shortId(p.peerId)}: ${problem}`))
  lines.push(
    c.dim('throughput: a signed mock task carrying the payload both ways, signatures and JSON included'),
  )
  return lines.join('\n')
}

export function formatStress(r: StressReportJson, c: Colours): string {
  const errors = Object.entries(r.errors)
  const providers = Object.entries(r.byProvider).sort((a, b) => b[1] - a[1])
  return [
    c.bold(
      `stress: ${r.type} tasks at ${r.requested.ratePerSecond}/s for ${duration(r.requested.durationMs)}`,
    ),
    fields(
      [
        [
          'submitted',
          `${r.submitted}${r.skipped > 0 ? c.yellow(` (${r.skipped} skipped: ${r.requested.maxInFlight} were unfinished)`) : ''}`,
        ],
        ['completed', `${r.completed} (${r.throughputPerSecond}/s)`],
        [
          'failed',
          errors.length === 0 ? '0' : `${r.failed}: ${errors.map(([code, n]) => `${code} ×${n}`).join(', ')}`,
        ],
        ['retries', String(r.retries)],
        [
          'latency',
          `p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
        ],
        ['ran on', providers.map(([peer, n]) => `${shortId(peer)} ×${n}`).join(', ') || '-'],
        ['took', duration(r.durationMs)],
      ],
      c,
    ),
  ].join('\n')
}

export function formatDump(what: string, d: DumpJson, c: Colours, hint: string): string {
  return [
    `${c.green('✔')} wrote ${what} to ${d.path} ${c.dim(`(${bytes(d.bytes)}, ${duration(d.durationMs)})`)}`,
    c.dim(hint),
  ].join('\n')
}
