/**
 * The data directory's lock (`node.pid`), held by real processes: the liveness of the holder is
 * what counts, so these run the lock in processes of their own.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { alive, cleanUp, deadPid, tempHome } from './helpers.js'

const HOLDER = fileURLToPath(new URL('./fixtures/hold-lock.mjs', import.meta.url))
const children: ChildProcess[] = []

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await cleanUp()
})

/** A process that tries to take the lock; resolves with its first line (`locked`, `refused ...`). */
function holder(dataDir: string): { child: ChildProcess; said: Promise<string> } {
  const child = spawn(process.execPath, [HOLDER, 'node', 'start', dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  const said = new Promise<string>((resolve) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.trim())
    })
    child.once('exit', () => resolve(out.trim()))
  })
  return { child, said }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()))
}

describe('the data directory lock', () => {
  it('keeps a second node out while the holder lives, and goes when the holder exits', async () => {
    const dataDir = join(await tempHome(), 'node-a')
    const first = holder(dataDir)
    expect(await first.said).toBe('locked')
    expect(Number.parseInt(await readFile(join(dataDir, 'node.pid'), 'utf8'), 10)).toBe(first.child.pid)
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700)

    const second = holder(dataDir)
    expect(await second.said).toBe(`refused ERR_NODE_ALREADY_RUNNING ${first.child.pid}`)

    first.child.stdin!.end()
    await exited(first.child)
    await expect(stat(join(dataDir, 'node.pid'))).rejects.toThrow(/ENOENT/)
    const third = holder(dataDir)
    expect(await third.said).toBe('locked')
  })

  it('takes over the lock of a holder that was killed, saying whose it was', async () => {
    const dataDir = join(await tempHome(), 'node-a')
    const first = holder(dataDir)
    expect(await first.said).toBe('locked')
    first.child.kill('SIGKILL')
    await exited(first.child)
    while (alive(first.child.pid!)) await new Promise((resolve) => setTimeout(resolve, 10))
    const second = holder(dataDir)
    expect(await second.said).toBe(`locked stale=${first.child.pid}`)
  })

  it('lets exactly one of several processes racing for a stale lock win', async () => {
    const dataDir = join(await tempHome(), 'node-a')
    await holder(dataDir).said.then((s) => expect(s).toBe('locked'))
    // Replace the lock with one of a process that is gone.
    for (const c of children.splice(0)) {
      c.kill('SIGKILL')
      await exited(c)
    }
    const dead = await deadPid()
    await writeFile(join(dataDir, 'node.pid'), `${dead}\n`)
    const racers = Array.from({ length: 6 }, () => holder(dataDir))
    const said = await Promise.all(racers.map((r) => r.said))
    const winners = said.filter((s) => s.startsWith('locked'))
    // One of them removed the stale lock (the one that says so may not be the one that won it).
    expect(winners).toHaveLength(1)
    const winner = racers[said.findIndex((s) => s.startsWith('locked'))]!.child.pid
    for (const s of said.filter((x) => !x.startsWith('locked')))
      expect(s).toBe(`refused ERR_NODE_ALREADY_RUNNING ${winner}`)
  })
})
