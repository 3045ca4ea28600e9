import type { PauseReason } from './types.js'

/** Each reason a node pauses for, in words. */
export const PAUSE_REASON_TEXT: Readonly<Record<PauseReason, string>> = {
  'in-use': 'the machine is in use (idle-only)',
  'outside-window': 'outside its time windows',
  'on-battery': 'on battery',
}

/** Why a node is paused, in words. */
export function describePause(reasons: readonly PauseReason[]): string {
  return reasons.map((r) => PAUSE_REASON_TEXT[r]).join(', ')
}
