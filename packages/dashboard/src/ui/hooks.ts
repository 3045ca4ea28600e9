/** Preact hooks over the live store. */
import { useEffect, useState } from 'preact/hooks'
import type { LiveState, LiveStore } from './live.js'

/** The store's state, re-rendering on each change. */
export function useLive(store: LiveStore): LiveState {
  const [state, setState] = useState(store.state)
  useEffect(() => {
    setState(store.state)
    return store.subscribe(() => setState(store.state))
  }, [store])
  return state
}

/**
 * The store's state, re-rendering at most every `ms`: a list of a thousand nodes need not redraw
 * for each of a burst of changes.
 */
export function useLiveThrottled(store: LiveStore, ms: number): LiveState {
  const [state, setState] = useState(store.state)
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    setState(store.state)
    const off = store.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = undefined
        setState(store.state)
      }, ms)
    })
    return () => {
      off()
      clearTimeout(timer)
    }
  }, [store, ms])
  return state
}
