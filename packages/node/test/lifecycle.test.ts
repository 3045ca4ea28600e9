import { describe, expect, it } from 'vitest'
import { InvalidStateTransitionError } from '../src/errors.js'
import { canTransition, Lifecycle, NODE_STATES, type NodeState, type StateChange } from '../src/lifecycle.js'

describe('lifecycle', () => {
  it('walks INITIALIZING → REGISTERING → ACTIVE → SHUTTING_DOWN → STOPPED, reporting each step', () => {
    const changes: StateChange[] = []
    const lifecycle = new Lifecycle((c) => changes.push(c))
    expect(lifecycle.state).toBe('INITIALIZING')
    for (const to of ['REGISTERING', 'ACTIVE', 'SHUTTING_DOWN', 'STOPPED'] as const) lifecycle.transition(to)
    expect(changes.map((c) => `${c.from}→${c.to}`)).toEqual([
      'INITIALIZING→REGISTERING',
      'REGISTERING→ACTIVE',
      'ACTIVE→SHUTTING_DOWN',
      'SHUTTING_DOWN→STOPPED',
    ])
    expect(changes.every((c) => typeof c.at === 'number')).toBe(true)
  })

  it('lets a failed start and a never-started node shut down', () => {
    expect(canTransition('REGISTERING', 'SHUTTING_DOWN')).toBe(true)
    expect(canTransition('INITIALIZING', 'SHUTTING_DOWN')).toBe(true)
  })

  it('rejects every other transition with a coded error and keeps the state', () => {
    const allowed = new Set([
      'INITIALIZING→REGISTERING',
      'INITIALIZING→SHUTTING_DOWN',
      'REGISTERING→ACTIVE',
      'REGISTERING→SHUTTING_DOWN',
      'ACTIVE→SHUTTING_DOWN',
      'SHUTTING_DOWN→STOPPED',
    ])
    const path: Record<NodeState, NodeState[]> = {
      INITIALIZING: [],
      REGISTERING: ['REGISTERING'],
      ACTIVE: ['REGISTERING', 'ACTIVE'],
      SHUTTING_DOWN: ['REGISTERING', 'ACTIVE', 'SHUTTING_DOWN'],
      STOPPED: ['REGISTERING', 'ACTIVE', 'SHUTTING_DOWN', 'STOPPED'],
    }
    let rejected = 0
    for (const from of NODE_STATES) {
      for (const to of NODE_STATES) {
        if (allowed.has(`${from}→${to}`)) continue
        const lifecycle = new Lifecycle(() => {})
        for (const step of path[from]) lifecycle.transition(step)
        expect(lifecycle.state).toBe(from)
        let err: unknown
        try {
          lifecycle.transition(to)
        } catch (e) {
          err = e
        }
        expect(err).toBeInstanceOf(InvalidStateTransitionError)
        expect(err).toMatchObject({
          code: 'ERR_INVALID_STATE_TRANSITION',
          from,
          to,
          name: 'InvalidStateTransitionError',
        })
        expect(lifecycle.state).toBe(from)
        rejected++
      }
    }
    expect(rejected).toBe(25 - allowed.size)
  })
})
