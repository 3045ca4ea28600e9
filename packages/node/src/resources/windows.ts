/**
 * Time windows a contributor lends the machine in (`limits.windows`): `HH:MM-HH:MM` in local time,
 * `22:00-07:00` crossing midnight. Outside every window the node takes no tasks from peers.
 */

/** A window as minutes after local midnight; `end` before `start` crosses midnight. */
export interface TimeWindow {
  readonly start: number
  readonly end: number
}

const WINDOW = /^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)$/

/** Parses `HH:MM-HH:MM`; undefined when the text is not one (or starts and ends at once). */
export function parseWindow(text: string): TimeWindow | undefined {
  const m = WINDOW.exec(text.trim())
  if (m === null) return undefined
  const start = Number(m[1]) * 60 + Number(m[2])
  const end = Number(m[3]) * 60 + Number(m[4])
  if (end > 24 * 60 || start === end) return undefined
  return { start, end }
}

/** What is wrong with a window, for the config validator; undefined when it is fine. */
export function windowProblem(text: string): string | undefined {
  return parseWindow(text) === undefined ? 'HH:MM-HH:MM in local time, e.g. 22:00-07:00' : undefined
}

/** Whether `date` (local time) is inside `window`. */
export function inWindow(window: TimeWindow, date: Date): boolean {
  const minute = date.getHours() * 60 + date.getMinutes()
  return window.start < window.end
    ? minute >= window.start && minute < window.end
    : minute >= window.start || minute < window.end
}

/** Whether `date` is inside any of `windows`; no windows at all means always. */
export function withinWindows(windows: readonly TimeWindow[], date: Date): boolean {
  return windows.length === 0 || windows.some((w) => inWindow(w, date))
}
