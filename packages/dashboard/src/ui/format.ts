/** How the page writes ids, durations and times. */

/** A PeerId as people read it: its last characters (the start is the same for every Ed25519 key). */
export function shortId(id: string): string {
  return id.length > 12 ? `…${id.slice(-8)}` : id
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const minutes = Math.floor(ms / 60_000)
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`
  const hours = Math.floor(minutes / 60)
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d ${hours % 24} h`
}

// One formatter each: `toLocaleTimeString` with options builds a new one per call, which the
// recent-flow list and the tasks table would pay for on every row of every render.
const CLOCK = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
})
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'short',
  timeStyle: 'medium',
  hour12: false,
})

export function clock(at: number | undefined): string {
  if (at === undefined) return '–'
  return CLOCK.format(at)
}

export function dateTime(at: number): string {
  return DATE_TIME.format(at)
}

export function percent(fraction: number | undefined): string {
  return fraction === undefined ? '–' : `${Math.round(fraction * 100)} %`
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`
}
