/** Step 4: what the kill did, from the nodes' own records: who noticed, and where the work went. */
import { duration, listing } from '../../term/format.js'
import type { AgentProcess } from './agent.js'
import type { Narrator } from './narrate.js'
import { REQUESTER } from './network.js'
import type { FailoverReport } from './report.js'
import { type TaskRun, why } from './sending.js'

/** The report of a run in which no agent was killed (failover off, or its task never started). */
export function noFailover(enabled: boolean, trigger: number | null = null): FailoverReport {
  return {
    enabled,
    observed: false,
    victim: null,
    trigger,
    killedAtMs: null,
    runningAtKill: [],
    finishedThere: [],
    exitSignal: null,
    recovered: [],
    noticedBy: [],
  }
}

/**
 * The failover as it happened. `requesterNoticedAt` is when the requester's peer table marked the
 * victim failed (undefined if it never did).
 */
export async function failoverReport(
  run: TaskRun,
  agents: readonly AgentProcess[],
  requesterNoticedAt: number | undefined,
): Promise<FailoverReport> {
  const kill = run.kill
  if (kill === undefined) {
    return noFailover(true, run.trigger?.number ?? null)
  }
  const exit = await kill.victim.exited
  const victimName = kill.victim.name
  const recovered: Array<FailoverReport['recovered'][number]> = []
  for (const t of run.tasks) {
    const record = run.records.get(t.number)
    const attempts = record?.attempts ?? []
    const failed = attempts.find((a) => a.peer === kill.victim.peerId && a.error !== undefined)
    if (failed?.finishedAt === undefined || t.ranOn === null || t.ranOn === victimName) continue
    const failedAt = failed.finishedAt
    const accepted = run.accepts.get(t.number)?.find((a) => a.peer !== kill.victim.peerId && a.at >= failedAt)
    recovered.push({
      number: t.number,
      to: t.ranOn,
      detectedMs: failedAt - kill.at,
      acceptedMs: accepted === undefined ? null : accepted.at - failedAt,
      recoveredMs: (record?.finishedAt ?? Number.NaN) - kill.at,
      error: failed.error!.code,
    })
  }
  const noticedBy: Array<{ name: string; ms: number }> = []
  if (requesterNoticedAt !== undefined) noticedBy.push({ name: REQUESTER, ms: requesterNoticedAt - kill.at })
  for (const agent of agents) {
    if (agent === kill.victim) continue
    const seen = agent.events.find(
      (e) =>
        (e.event === 'peer:failed' || e.event === 'peer:remove') &&
        e.peerId === kill.victim.peerId &&
        e.at >= kill.at,
    )
    if (seen !== undefined) noticedBy.push({ name: agent.name, ms: seen.at - kill.at })
  }
  const verified = new Set(
    run.tasks.filter((t) => t.status === 'COMPLETED' && t.signed && t.outputChecked).map((t) => t.number),
  )
  const interrupted = run.tasks.filter((t) =>
    t.attempts.some((a) => a.ranOn === victimName && a.error !== undefined),
  )
  // A task the victim had just finished may still look running to the demo (its event was on the
  // way): its verified result had left before the kill. Everything else it held must have moved.
  const finishedThere = kill.running.filter(
    (n) => verified.has(n) && run.tasks[n - 1]?.ranOn === victimName && n !== kill.trigger,
  )
  const observed =
    exit.signal === 'SIGKILL' &&
    recovered.some((r) => r.number === kill.trigger) &&
    interrupted.every((t) => verified.has(t.number) && t.ranOn !== victimName) &&
    kill.running.every((n) => verified.has(n))
  return {
    enabled: true,
    observed,
    victim: victimName,
    trigger: kill.trigger,
    killedAtMs: kill.at - run.startedAt,
    runningAtKill: kill.running,
    finishedThere,
    exitSignal: exit.signal,
    recovered,
    noticedBy,
  }
}

export function narrateFailover(say: Narrator, f: FailoverReport): void {
  const p = say.paint
  if (f.victim === null) {
    say.fail(failoverProblem(f))
    return
  }
  const running = f.runningAtKill.map((n) => `#${n}`)
  say.note(
    `${f.victim} was killed with SIGKILL ${duration(f.killedAtMs ?? 0)} into the run, in the middle of ${listing(running)}.`,
  )
  for (const n of f.finishedThere)
    say.ok(`#${n} had just finished on ${f.victim}: its verified result had left before the kill`)
  const requester = f.noticedBy.find((n) => n.name === REQUESTER)
  if (requester !== undefined)
    say.ok(`the requester noticed ${duration(requester.ms)} later: the connection closed without a goodbye`)
  const agents = f.noticedBy.filter((n) => n.name !== REQUESTER)
  if (agents.length > 0) {
    say.ok(
      `${listing(agents.map((a) => a.name))} dropped ${f.victim} from their peer tables within ${duration(Math.max(...agents.map((a) => a.ms)))}`,
    )
  }
  for (const r of f.recovered) {
    if (r.detectedMs < 0) {
      say.ok(
        `#${r.number}: the requester had already moved it off ${f.victim} (${why(r.error)}) before the kill; verified result from ${p.bold(r.to)} ${duration(r.recoveredMs)} after the kill`,
      )
      continue
    }
    say.ok(
      `#${r.number}: the attempt on ${f.victim} failed (${why(r.error)}, ${duration(r.detectedMs)} after the kill), ${r.acceptedMs === null ? `went to ${p.bold(r.to)}` : `accepted by ${p.bold(r.to)} ${duration(r.acceptedMs)} later`}, verified result ${duration(r.recoveredMs)} after the kill`,
    )
  }
  if (f.observed) say.ok(`nothing was lost: every task ${f.victim} held has its verified result`)
  else say.fail(`the failover was not observed: ${failoverProblem(f)}`)
}

/** Why a failover does not count as observed, in a few words. */
export function failoverProblem(f: FailoverReport): string {
  if (f.victim === null) return `no agent was killed: task #${f.trigger ?? '?'}, chosen for it, never started`
  if (f.exitSignal !== 'SIGKILL')
    return `${f.victim} did not die of the SIGKILL (${f.exitSignal ?? 'it exited'})`
  if (!f.recovered.some((r) => r.number === f.trigger))
    return `#${f.trigger}, which ${f.victim} was killed in the middle of, did not complete on another agent`
  return `not every task ${f.victim} held has a verified result`
}
