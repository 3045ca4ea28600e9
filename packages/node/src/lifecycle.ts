import { InvalidStateTransitionError } from './errors.js'

/**
 * The states of a node, in order:
 *
 * - `INITIALIZING`: created; identity loaded, components built but not started.
 * - `REGISTERING`: starting: listening, registering protocol handlers, announcing on mDNS, dialling bootstrap peers.
 * - `ACTIVE`: running and accepting work.
 * - `SHUTTING_DOWN`: no new work; in-flight work finishing, peers being told goodbye.
 * - `STOPPED`: everything closed. Terminal: create a new node to run again.
 */
export type NodeState = 'INITIALIZING' | 'REGISTERING' | 'ACTIVE' | 'SHUTTING_DOWN' | 'STOPPED'

/** All states, in lifecycle order. */
export const NODE_STATES: readonly NodeState[] = Object.freeze([
  'INITIALIZING',
  'REGISTERING',
  'ACTIVE',
  'SHUTTING_DOWN',
  'STOPPED',
])

/**
 * Allowed transitions. A failing or aborted start goes REGISTERING → SHUTTING_DOWN so that
 * whatever was started is closed by the same path as a normal stop; a node that was never
 * started goes INITIALIZING → SHUTTING_DOWN when stopped.
 */
const TRANSITIONS: Readonly<Record<NodeState, readonly NodeState[]>> = Object.freeze({
  INITIALIZING: ['REGISTERING', 'SHUTTING_DOWN'],
  REGISTERING: ['ACTIVE', 'SHUTTING_DOWN'],
  ACTIVE: ['SHUTTING_DOWN'],
  SHUTTING_DOWN: ['STOPPED'],
  STOPPED: [],
})

/** Whether the lifecycle allows `from → to`. */
export function canTransition(from: NodeState, to: NodeState): boolean {
  return TRANSITIONS[from].includes(to)
}

/** One transition, as reported by the `state:change` event. */
export interface StateChange {
  readonly from: NodeState
  readonly to: NodeState
  /** `Date.now()` at the transition. */
  readonly at: number
}

/**
 * The lifecycle state machine: holds the current state and rejects transitions the lifecycle
 * does not allow, so no code path can, say, take a STOPPED node back to ACTIVE.
 */
export class Lifecycle {
  #state: NodeState = 'INITIALIZING'
  readonly #onChange: (change: StateChange) => void

  constructor(onChange: (change: StateChange) => void) {
    this.#onChange = onChange
  }

  get state(): NodeState {
    return this.#state
  }

  /** Moves to `to`, or throws `InvalidStateTransitionError` (state unchanged). */
  transition(to: NodeState): StateChange {
    const from = this.#state
    if (!canTransition(from, to)) throw new InvalidStateTransitionError(from, to)
    this.#state = to
    const change: StateChange = { from, to, at: Date.now() }
    this.#onChange(change)
    return change
  }
}
