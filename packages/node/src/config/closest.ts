/** Lower case without `_` and `-`, so `listen_port`, `LISTEN-PORT` and `listenPort` compare equal. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '')
}

/**
 * Edit distance counting an insertion, deletion, substitution or swap of two neighbours as one
 * (optimal string alignment), so `levle` is one typo away from `level`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** The candidate closest to `name` if it is plausibly a typo of it (or a different spelling), else undefined. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const n = normalise(name)
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const d = editDistance(n, normalise(candidate))
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  // Allow about one typo per four characters, at least one.
  return bestDistance <= Math.max(1, Math.floor(n.length / 4)) ? best : undefined
}
