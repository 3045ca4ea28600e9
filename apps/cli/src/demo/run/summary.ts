/** The last step: the figures of the run, and the verdict. */
import { duration } from '../../term/format.js'
import type { Narrator } from './narrate.js'
import type { DemoOptions } from './options.js'
import {
  type AgentReport,
  countBy,
  type DemoSummary,
  type DiscoveryReport,
  type FailoverReport,
  latencySummary,
  type TaskReport,
} from './report.js'

export function summarize(
  agents: readonly AgentReport[],
  discovery: DiscoveryReport,
  tasks: readonly TaskReport[],
  options: DemoOptions,
): DemoSummary {
  const verified = tasks.filter((t) => t.status === 'COMPLETED' && t.signed && t.outputChecked)
  return {
    agents: agents.length,
    agentsRunningAtEnd: agents.filter((a) => a.end === 'stopped' || a.end === 'killed after the stop timeout')
      .length,
    connections: discovery.connections,
    tasks: options.tasks,
    completed: tasks.filter((t) => t.status === 'COMPLETED').length,
    verified: verified.length,
    successRate: options.tasks === 0 ? 0 : verified.length / options.tasks,
    latencyMs: latencySummary(tasks.map((t) => t.latencyMs)),
    byType: countBy(verified, (t) => t.type),
    byAgent: countBy(verified, (t) => t.ranOn),
    byHops: countBy(verified, (t) => (t.hops === null ? 'forwarded' : String(t.hops))),
    failedOver: tasks.filter((t) => t.attempts.some((a) => a.error !== undefined)).length,
  }
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10} %`
const pairs = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')

function hops(byHops: Readonly<Record<string, number>>): string {
  const say = (h: string): string =>
    h === 'forwarded' ? 'forwarded' : `over ${h} hop${h === '1' ? '' : 's'}`
  const keys = Object.keys(byHops)
  if (keys.length === 1) return h1(keys[0]!)
  return Object.entries(byHops)
    .map(([h, n]) => `${n} ${say(h)}`)
    .join(', ')
  function h1(h: string): string {
    return h === 'forwarded' ? 'all forwarded' : `${h} hop${h === '1' ? '' : 's'} each`
  }
}

export function narrateSummary(
  say: Narrator,
  s: DemoSummary,
  discovery: DiscoveryReport,
  failover: FailoverReport,
  durationMs: number,
): void {
  const p = say.paint
  const row = (key: string, value: string): void => say.event(p.bold(key.padEnd(9)), value)
  const killed = failover.victim === null ? '' : ` (${failover.victim} was killed)`
  row(
    'nodes',
    `${s.agents} agent${s.agents === 1 ? '' : 's'} and the requester; ${s.agentsRunningAtEnd} agent${s.agentsRunningAtEnd === 1 ? '' : 's'} still up at the end${killed}`,
  )
  row(
    'peers',
    `${discovery.connections} of ${discovery.expectedConnections} connections, full mesh ${discovery.meshMs === null ? 'not reached' : `${duration(discovery.meshMs)} after the last node was listening`} ${p.dim('(target: under 5 s)')}`,
  )
  row(
    'tasks',
    `${s.verified} of ${s.tasks} completed and verified (${pct(s.successRate)}): ${pairs(s.byType)}`,
  )
  const byAgent = Object.entries(s.byAgent).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
  row(
    'routes',
    `${byAgent.map(([k, n]) => `${k} ${n}`).join(', ')}; ${hops(s.byHops)}${s.failedOver === 0 ? '' : `; ${s.failedOver} moved to another agent after a failed attempt`}`,
  )
  if (s.latencyMs !== null)
    row(
      'latency',
      `p50 ${duration(s.latencyMs.p50)}, p99 ${duration(s.latencyMs.p99)}, submit to verified result ${p.dim('(target: under 30 s)')}`,
    )
  if (failover.enabled) {
    row(
      'failover',
      failover.observed
        ? `${failover.victim} killed mid-task; ${failover.recovered.map((r) => `#${r.number} completed on ${r.to} ${duration(r.recoveredMs)} after the kill`).join(', ')}`
        : 'not observed',
    )
  }
  row('time', `${duration(durationMs)} in all`)
}

export function narrateVerdict(say: Narrator, failures: readonly string[]): void {
  const p = say.paint
  say.blank()
  if (failures.length === 0) {
    say.event(p.green('✔'), p.bold(p.green('Demo complete: everything above happened as shown.')))
    say.blank()
    say.event(' ', 'Next steps:')
    say.event(' ', '- Run an agent yourself: apps/cli/README.md (p2p-ai-agents node start)')
    say.event(' ', '- Write your own agent in a few lines: packages/node/README.md')
    say.event(' ', '- What happens to a task on its way, and on failure: docs/delivery.md')
    say.event(' ', '- Try a bigger run: npm run demo -- --nodes 6 --tasks 40')
    return
  }
  say.event(p.red('✖'), p.bold(p.red('The demo did not show everything it set out to:')))
  for (const f of failures) say.event(' ', `- ${f}`)
}
