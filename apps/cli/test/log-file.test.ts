import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openRollingLog, removeOldLogs } from '../src/daemon/log-file.js'
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

  it('deletes rolled files older than maxAgeDays, from earlier runs too, at start', async () => {
    const dataDir = join(await tempHome(), 'node')
    const logs = join(dataDir, 'logs')
    await mkdir(logs, { recursive: true })
    const day = 86_400_000
    const ago = async (name: string, days: number): Promise<void> => {
      await writeFile(join(logs, name), 'a line\n')
      const when = new Date(Date.now() - days * day)
      await utimes(join(logs, name), when, when)
    }
    // A node stopped for ten days left these behind; fewer than the count limit, all too old but one.
    await ago('node.2026-11-20.1.log', 18)
    await ago('node.before-1700000000000.log', 12)
    await ago('node.2026-12-05.1.log', 2)
    await ago('notes.txt', 30)
    const log = await openRollingLog(dataDir, { maxBytes: 1_000_000, maxAgeDays: 7 })
    log.write(line(1))
    log.flushSync()
    const files = await readdir(logs)
    expect(files).not.toContain('node.2026-11-20.1.log')
    expect(files).not.toContain('node.before-1700000000000.log')
    expect(files).toContain('node.2026-12-05.1.log')
    // Not a log file of ours: left alone.
    expect(files).toContain('notes.txt')
    log.end()
  })

  it('never deletes the file being written, however old its last write', async () => {
    const logs = join(await tempHome(), 'logs')
    await mkdir(logs, { recursive: true })
    await writeFile(join(logs, 'node.2026-01-01.1.log'), 'x\n')
    await writeFile(join(logs, 'node.2026-01-01.2.log'), 'x\n')
    await symlink('node.2026-01-01.2.log', join(logs, 'current.log'))
    const later = Date.now() + 30 * 86_400_000
    expect(await removeOldLogs(logs, 7, later)).toEqual(['node.2026-01-01.1.log'])
    expect(await readdir(logs)).toContain('node.2026-01-01.2.log')
  })
})
