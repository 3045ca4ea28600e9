import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openRollingLog } from '../src/daemon/log-file.js'
import { cleanUp, tempHome } from './helpers.js'

afterEach(cleanUp)

const line = (i: number): string => `${JSON.stringify({ level: 'info', i, msg: 'x'.repeat(80) })}\n`

/** Waits for pino-roll's removal of old files, which runs after a roll. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 150))
}

describe('node.log of a node run in the background', () => {
  it('rolls over at maxBytes, keeps maxAgeDays files, and node.log follows the current one', async () => {
    const dataDir = join(await tempHome(), 'node')
    await mkdir(dataDir, { recursive: true })
    // A node.log from before rotation is kept, moved aside.
    await writeFile(join(dataDir, 'node.log'), 'an old line\n')
    const log = await openRollingLog(dataDir, { maxBytes: 1_024, maxAgeDays: 3 })
    for (let i = 0; i < 60; i++) {
      log.write(line(i))
      if (i % 10 === 9) await settle()
    }
    await settle()
    const files = (await readdir(join(dataDir, 'logs'))).sort()
    const rolled = files.filter((f) => /^node\.\d{4}-\d{2}-\d{2}\.\d+\.log$/.test(f))
    // 60 lines of about 100 bytes is six files' worth: only the newest three are left.
    expect(rolled).toHaveLength(3)
    expect(files.some((f) => f.startsWith('node.before-'))).toBe(true)
    expect((await lstat(join(dataDir, 'node.log'))).isSymbolicLink()).toBe(true)
    const byNumber = rolled.sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    expect(await readlink(join(dataDir, 'logs', 'current.log'))).toBe(byNumber.at(-1))
    log.write(line(60))
    log.flushSync()
    expect(await readFile(join(dataDir, 'node.log'), 'utf8')).toContain('"i":60')
    // What is kept is the newest: the first lines went with the oldest files.
    const kept = (await Promise.all(byNumber.map((f) => readFile(join(dataDir, 'logs', f), 'utf8')))).join('')
    expect(kept).toContain('"i":59')
    expect(kept).not.toContain('"i":0,')
    log.end()
  })

  it('rolls over when its period ends, whatever the size', async () => {
    const dataDir = join(await tempHome(), 'node')
    const log = await openRollingLog(dataDir, { maxBytes: 1_000_000, maxAgeDays: 7 }, 200)
    log.write(line(1))
    await new Promise((resolve) => setTimeout(resolve, 450))
    log.write(line(2))
    await settle()
    const rolled = (await readdir(join(dataDir, 'logs'))).filter((f) => f.startsWith('node.'))
    expect(rolled.length).toBeGreaterThanOrEqual(2)
    log.end()
  })
})
