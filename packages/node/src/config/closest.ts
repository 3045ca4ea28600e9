/** Lower case without `_` and `-`, so `listen_port`, `LISTEN-PORT` and `listenPort` compare equal. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '')
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
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
