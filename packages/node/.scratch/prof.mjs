import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const self = new Map()
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const dt = p.timeDeltas
const counts = new Map()
for (let i = 0; i < p.samples.length; i++) counts.set(p.samples[i], (counts.get(p.samples[i]) ?? 0) + (dt[i] ?? 0))
let total = 0
for (const [id, t] of counts) {
  const n = byId.get(id)
  const f = n.callFrame
  const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`
  self.set(key, (self.get(key) ?? 0) + t)
  total += t
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 40))
for (const [k, t] of rows) console.log((100 * t / total).toFixed(1).padStart(5), '%', k)
