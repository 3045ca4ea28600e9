/**
 * The fault schedule of a run: which fault, on which node, when and for how long, drawn from the
 * seed alone, so the same seed always injects the same faults in the same order. Faults run one
 * after another (each is over, its node back, before the next one starts): what differs between
 * two runs of a seed is only timing.
 */
import { InvalidChaosOptionError } from './errors.js'
import { Random } from './random.js'

/** Every fault the harness injects. */
export const FAULT_KINDS = [
  /** SIGKILL a provider, restart it after the hold. */
  'kill-provider',
  /** SIGKILL the requester (the node the clients use), restart it after the hold. */
  'kill-requester',
  /** SIGSTOP a node, SIGCONT it after the hold. */
  'freeze',
  /** Take a host's link down, bring it back after the hold (test hosts only). */
  'cut-link',
  /** Stop a node gracefully through its control API (`node stop`), start it again after the hold. */
  'graceful-stop',
  /** Fill a provider's own queue with local tasks, so it refuses the requester's (`ERR_BUSY`). */
  'fill-queue',
] as const

export type FaultKind = (typeof FAULT_KINDS)[number]

/** Faults that need the test hosts (a link to cut). */
export const TESTNET_ONLY: readonly FaultKind[] = ['cut-link']

export interface PlannedFault {
  /** Position in the schedule, from 1. */
  readonly n: number
  readonly kind: FaultKind
  /** Name of the node (`requester`, `provider-1`...) or of its host. */
  readonly target: string
  /** Pause before the fault starts, after the previous one ended (or after the warm-up). */
  readonly gapMs: number
  /** How long the fault holds before it is undone. */
  readonly holdMs: number
}

export interface PlanInit {
  readonly seed: number
  /** Faults are planned until their gaps and holds add up to this... */
  readonly durationMs: number
  /** ...or until there are this many. */
  readonly maxFaults?: number
  readonly kinds: readonly FaultKind[]
  readonly requester: string
  readonly providers: readonly string[]
  readonly gapMs: readonly [number, number]
  readonly holdMs: readonly [number, number]
}

/**
 * Plans faults for `durationMs`. Every kind comes once first, in a seeded order, so even a short
 * run injects each at least once; then kinds are drawn at random. One provider, the last, is never
 * killed or stopped: the survivor whose memory is compared at start and end.
 *
 * @throws {InvalidChaosOptionError} when the duration cannot hold one fault of each kind
 */
export function planFaults(init: PlanInit): PlannedFault[] {
  if (init.kinds.length === 0) throw new InvalidChaosOptionError('kinds: at least one fault kind is needed')
  if (init.providers.length < 2) {
    throw new InvalidChaosOptionError('providers: at least 2 (one of them is never killed)')
  }
  const random = new Random(init.seed)
  const restartable = init.providers.slice(0, -1)
  const everyone = [init.requester, ...init.providers]
  const order = random.shuffled(init.kinds)
  const faults: PlannedFault[] = []
  let used = 0
  for (let n = 1; ; n++) {
    if (init.maxFaults !== undefined && n > init.maxFaults) return faults
    const kind = order[n - 1] ?? random.pick(init.kinds)
    const gapMs = random.within(init.gapMs)
    const holdMs = kind === 'fill-queue' ? 0 : random.within(init.holdMs)
    if (used + gapMs + holdMs > init.durationMs) {
      if (n <= order.length) {
        throw new InvalidChaosOptionError(
          `durationMs: ${init.durationMs} ms cannot hold one fault of each of the ${order.length} kinds; give it at least ${used + gapMs + holdMs + (order.length - n) * (init.gapMs[1] + init.holdMs[1])} ms`,
        )
      }
      return faults
    }
    used += gapMs + holdMs
    const target = targetOf(kind, random, init.requester, restartable, init.providers, everyone)
    faults.push({ n, kind, target, gapMs, holdMs })
  }
}

function targetOf(
  kind: FaultKind,
  random: Random,
  requester: string,
  restartable: readonly string[],
  providers: readonly string[],
  everyone: readonly string[],
): string {
  switch (kind) {
    case 'kill-requester':
      return requester
    case 'kill-provider':
      return random.pick(restartable)
    case 'graceful-stop':
      return random.pick([requester, ...restartable])
    case 'fill-queue':
      return random.pick(providers)
    case 'freeze':
    case 'cut-link':
      return random.pick(everyone)
  }
}
