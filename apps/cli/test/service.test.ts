import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { serviceFile } from '../src/daemon/service.js'
import { BIN, cleanUp, run, tempHome } from './helpers.js'

afterEach(cleanUp)

const exec = promisify(execFile)

/** systemd's own check of a unit file, where systemd is installed (it is on Debian). */
async function systemdVerify(file: string): Promise<{ ok: boolean; output: string } | undefined> {
  try {
    const { stdout, stderr } = await exec('systemd-analyze', ['verify', file], { timeout: 30_000 })
    return { ok: true, output: `${stdout}${stderr}` }
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string }
    if (e.code === 'ENOENT') return undefined
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

describe('node install-service', () => {
  it('writes a systemd user unit that restarts the node on failure, which systemd accepts, and uninstall-service removes it', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'my node')
    const unit = join(home, 'config', 'systemd', 'user', 'p2p-ai.service')
    const installed = await run(
      ['node', 'install-service', '--platform', 'systemd', '--data-dir', dataDir, '--json'],
      { home },
    )
    expect(installed.stderr).toBe('')
    expect(JSON.parse(installed.stdout)).toMatchObject({
      installed: unit,
      enable: ['systemctl --user daemon-reload', 'systemctl --user enable --now p2p-ai.service'],
    })
    const text = await readFile(unit, 'utf8')
    expect(text).toContain(`ExecStart=${process.execPath} ${BIN} node start --data-dir "${dataDir}"\n`)
    expect(text).toMatch(/^Restart=on-failure$/m)
    expect(text).toMatch(/^StartLimitBurst=5$/m)
    expect(text).toMatch(/^WantedBy=default.target$/m)
    expect(text).toMatch(/^Nice=10$/m)
    expect((await stat(unit)).mode & 0o777).toBe(0o644)
    const verified = await systemdVerify(unit)
    if (verified !== undefined) {
      expect(verified.output).toBe('')
      expect(verified.ok).toBe(true)
    }
    // The same again is fine; something else there is not replaced without --force.
    expect(
      (await run(['node', 'install-service', '--platform', 'systemd', '--data-dir', dataDir], { home })).code,
    ).toBe(0)
    const other = await run(
      ['node', 'install-service', '--platform', 'systemd', '--data-dir', join(home, 'b')],
      {
        home,
      },
    )
    expect(other.code).toBe(1)
    expect(other.stderr).toMatch(/exists and says something else/)
    expect(other.stderr).toMatch(/--force/)

    const removed = await run(['node', 'uninstall-service', '--platform', 'systemd', '--json'], { home })
    expect(JSON.parse(removed.stdout)).toEqual({
      removed: unit,
      platform: 'systemd',
      disable: ['systemctl --user disable --now p2p-ai.service'],
    })
    await expect(stat(unit)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('writes a launchd agent that runs the node under its watchdog and starts it again after a failure', () => {
    const file = serviceFile({
      platform: 'launchd',
      name: 'p2p-ai',
      node: '/usr/local/bin/node',
      bin: '/opt/p2p ai/bin.js',
      dataDir: '/Users/ada/R&D <node>',
      configFile: '/Users/ada/p2p.yaml',
      home: '/Users/ada',
      xdgConfigHome: undefined,
    })
    expect(file.path).toBe('/Users/ada/Library/LaunchAgents/ai.p2p.p2p-ai.plist')
    const strings = [...file.content.matchAll(/<string>([^<]*)<\/string>/g)].map((m) => m[1])
    expect(strings.slice(1, 10)).toEqual([
      '/usr/local/bin/node',
      '/opt/p2p ai/bin.js',
      'node',
      'start',
      '--supervise',
      '--data-dir',
      '/Users/ada/R&amp;D &lt;node&gt;',
      '--config',
      '/Users/ada/p2p.yaml',
    ])
    expect(file.content).toMatch(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/)
    expect(file.content).toMatch(/<key>RunAtLoad<\/key>\s*<true\/>/)
    expect(file.content).toContain('<string>/Users/ada/R&amp;D &lt;node&gt;/logs/launchd.log</string>')
    // Every element closed: as many opening tags as closing ones.
    const opened = (file.content.match(/<(dict|array|plist)[ >]/g) ?? []).length
    const closed = (file.content.match(/<\/(dict|array|plist)>/g) ?? []).length
    expect(opened).toBe(closed)
    expect(file.enable).toEqual([
      'launchctl bootstrap gui/$(id -u) /Users/ada/Library/LaunchAgents/ai.p2p.p2p-ai.plist',
    ])
  })
})
