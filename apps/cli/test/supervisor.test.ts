/**
 * The watchdog of a node run in the background, for real: the node is killed with SIGKILL and
 * comes back with the same PeerId and the tasks it had acknowledged (finished ones kept, running
 * ones resumed, as docs/delivery.md says), `node stop` stops both, and repeated crashes make it
 * give up with a clear message. Short restart delays (the supervisor.* settings) keep it quick.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RestartPolicy } from '../src/daemon/restarts.js'
import { alive, cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

afterEach(cleanUp)

interface Started {
  pid: number
  supervisorPid: number
  peerId: string
  logFile: string
}

async function startDetached(home: string, dataDir: string, env: Record<string, string>): Promise<Started> {
  const r = await run(['node', 'start', '--detach', '--json', '--data-dir', dataDir, ...LOCAL_NODE], {
    home,
    env,
  })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as Started
}

/** Waits until a node other than `oldPid` wrote its control file, then asks it with `node status`. */
async function backAgain(home: string, dataDir: string, oldPid: number, timeoutMs = 20_000) {
  await until(async () => {
    const info = await readFile(join(dataDir, 'control.json'), 'utf8').catch(() => '{}')
    const pid = (JSON.parse(info) as { pid?: number }).pid
    return pid !== undefined && pid !== oldPid && alive(pid)
  }, timeoutMs)
  const status = await run(['node', 'status', '--json', '--data-dir', dataDir], { home })
  expect(status.code).toBe(0)
  return JSON.parse(status.stdout) as {
    pid: number
    peerId: string
    state: string
    supervisor?: { pid: number; restarts: number; lastExit?: string }
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('the watchdog of a node started with --detach', () => {
  it('restarts a node killed with SIGKILL within seconds, with the same PeerId and the tasks it acknowledged, and node stop stops both', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node')
    const started = await startDetached(home, dataDir, { P2P_AI_SUPERVISOR__RESTART_DELAY_MS: '100' })
    expect(alive(started.supervisorPid)).toBe(true)
    // A task whose result the node acknowledged before it was killed.
    const submitted = await run(
      ['task', 'submit', '--type', 'mock', '--input', 'kept', '--wait', '--json', '--data-dir', dataDir],
      { home },
    )
    expect(submitted.code).toBe(0)
    const acknowledged = JSON.parse(submitted.stdout) as { id: string; status: string }
    expect(acknowledged.status).toBe('COMPLETED')
    // And one acknowledged but still running when the node is killed: it is resumed (delivery.md 7).
    const running = await run(
      [
        'task',
        'submit',
        '--type',
        'mock',
        '--input-json',
        '{"text":"resumed","latencyMs":1500}',
        '--data-dir',
        dataDir,
      ],
      { home },
    )
    expect(running.code).toBe(0)
    const runningId = running.stdout.trim()
    process.kill(started.pid, 'SIGKILL')
    const killedAt = Date.now()
    const back = await backAgain(home, dataDir, started.pid)
    expect(back.state).toBe('ACTIVE')
    expect(back.supervisor).toEqual({ pid: started.supervisorPid, restarts: 1, lastExit: 'SIGKILL' })
    expect(back.peerId).toBe(started.peerId)
    const found = await run(['task', 'status', acknowledged.id, '--json', '--data-dir', dataDir], { home })
    expect(found.code).toBe(0)
    expect(JSON.parse(found.stdout)).toMatchObject({
      id: acknowledged.id,
      status: 'COMPLETED',
      output: { text: 'kept' },
    })
    const resumed = await run(['task', 'result', runningId, '--wait', '--data-dir', dataDir], { home })
    expect(resumed.code).toBe(0)
    const record = await run(['task', 'status', runningId, '--json', '--data-dir', dataDir], { home })
    expect(JSON.parse(record.stdout)).toMatchObject({
      status: 'COMPLETED',
      resumed: 1,
      output: { text: 'resumed' },
    })
    // The restart itself is 100 ms away; the rest is a node process starting on a busy machine.
    expect(Date.now() - killedAt).toBeLessThan(20_000)
    const log = await readFile(join(dataDir, 'node.log'), 'utf8')
    expect(log).toMatch(
      /"component":"supervisor".*"msg":"the node crashed \(SIGKILL\); restarting it in 100 ms"/,
    )
    expect(log).toMatch(/"msg":"the node is running again"/)

    const stop = await run(['node', 'stop', '--json', '--data-dir', dataDir], { home })
    expect(stop.code).toBe(0)
    expect(JSON.parse(stop.stdout)).toMatchObject({
      stopped: true,
      pid: back.pid,
      supervisorPid: started.supervisorPid,
    })
    expect(alive(back.pid)).toBe(false)
    expect(alive(started.supervisorPid)).toBe(false)
    const status = await run(['node', 'status', '--data-dir', dataDir], { home })
    expect(status.code).toBe(3)
  })

  it('gives up after supervisor.maxCrashes crashes in the window, and node status says why', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node')
    const started = await startDetached(home, dataDir, { P2P_AI_SUPERVISOR__MAX_CRASHES: '1' })
    process.kill(started.pid, 'SIGKILL')
    await until(() => !alive(started.supervisorPid))
    const state = JSON.parse(await readFile(join(dataDir, 'supervisor.json'), 'utf8')) as Record<
      string,
      unknown
    >
    expect(state).toMatchObject({ state: 'gave-up', lastExit: 'SIGKILL' })
    const status = await run(['node', 'status', '--data-dir', dataDir], { home })
    expect(status.code).toBe(3)
    expect(status.stderr).toMatch(
      /its watchdog gave up at .*: the node crashed 1 time within 60 s; giving up; see node\.log/,
    )
    expect(await readFile(join(dataDir, 'node.log'), 'utf8')).toMatch(/"level":"fatal".*giving up/)
  })
})

describe('the restart policy', () => {
  const settings = { restartDelayMs: 1_000, maxRestartDelayMs: 5_000, maxCrashes: 5, crashWindowMs: 60_000 }

  it('waits twice as long after each crash in the window, up to the longest wait, then gives up', () => {
    const policy = new RestartPolicy(settings)
    const decisions = [0, 1_000, 3_000, 7_000, 12_000].map((at) => policy.crashed(at))
    expect(decisions.slice(0, 4).map((d) => (d.action === 'restart' ? d.delayMs : d.action))).toEqual([
      1_000, 2_000, 4_000, 5_000,
    ])
    expect(decisions[4]).toEqual({
      action: 'give-up',
      crashes: 5,
      reason: 'the node crashed 5 times within 60 s',
    })
  })

  it('starts again from the first wait once a whole window passed without a crash', () => {
    const policy = new RestartPolicy(settings)
    policy.crashed(0)
    policy.crashed(30_000)
    // The first crash left the window: two in it.
    expect(policy.crashed(70_000)).toMatchObject({ action: 'restart', delayMs: 2_000, crashes: 2 })
    expect(policy.crashed(200_000)).toMatchObject({ action: 'restart', delayMs: 1_000, crashes: 1 })
  })
})
