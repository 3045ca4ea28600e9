import { describe, expect, it } from 'vitest'
import { formatPeers } from '../src/commands/node.js'
import type { JobJson } from '../src/control/types.js'
import { colourAllowed, colours, stripAnsi } from '../src/term/colour.js'
import { clockTime, duration, shortId, table } from '../src/term/format.js'
import { jobFigures, jobProgress } from '../src/term/job-progress.js'
import { progressBar } from '../src/term/progress.js'
import { spinner } from '../src/term/spinner.js'

function stream(isTTY: boolean) {
  const chunks: string[] = []
  return { isTTY, write: (t: string) => chunks.push(t), text: () => chunks.join('') }
}

describe('colour', () => {
  it('is on for a terminal only, and never with NO_COLOR or --no-color', () => {
    expect(colourAllowed({ isTTY: true }, {})).toBe(true)
    expect(colourAllowed({ isTTY: false }, {})).toBe(false)
    expect(colourAllowed({ isTTY: true }, { NO_COLOR: '1' })).toBe(false)
    expect(colourAllowed({ isTTY: true }, { NO_COLOR: '' })).toBe(true)
    expect(colourAllowed({ isTTY: true }, {}, true)).toBe(false)
    expect(colourAllowed({ isTTY: true }, { TERM: 'dumb' })).toBe(false)
    expect(colourAllowed({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true)
    expect(colourAllowed({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false)
    expect(colourAllowed({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false)
  })

  it('writes escapes only when enabled, and they strip back to the text', () => {
    expect(colours(false).red('x')).toBe('x')
    expect(colours(true).red('x')).toBe('\u001b[31mx\u001b[39m')
    expect(stripAnsi(colours(true).bold(colours(true).green('ok')))).toBe('ok')
  })
})

describe('spinner', () => {
  it('draws nothing when the stream is not a terminal, and prints only the final line', () => {
    const s = stream(false)
    const spin = spinner(s, 'waiting…')
    spin.update('still waiting…')
    spin.stop('done')
    expect(s.text()).toBe('done\n')
  })

  it('draws on a terminal and clears its line when stopped', () => {
    const s = stream(true)
    const spin = spinner(s, 'waiting…')
    spin.stop()
    expect(s.text()).toContain('waiting…')
    expect(s.text().endsWith('\r\u001b[2K\u001b[?25h')).toBe(true)
  })
})

describe('progress bar', () => {
  /** A clock the test moves by hand. */
  function clock() {
    let t = 0
    return { now: () => t, advance: (ms: number) => (t += ms) }
  }

  it('prints plain lines every 10 % without a terminal, with the rate and the time left', () => {
    const s = stream(false)
    const c = clock()
    const bar = progressBar(s, { now: c.now })
    const mb = 1024 ** 2
    for (let received = 0; received <= 100 * mb; received += 5 * mb) {
      bar.update({ label: 'model.gguf', received, total: 100 * mb, resumed: 0 })
      c.advance(1000)
    }
    bar.done()
    const lines = s.text().trimEnd().split('\n')
    expect(lines).toHaveLength(11)
    expect(lines[0]).toBe('model.gguf: 0%  0 B / 100.0 MB')
    // 5 MB a second: at 50 %, 10 s to go.
    expect(lines[5]).toBe('model.gguf: 50%  50.0 MB / 100.0 MB  5.0 MB/s  ETA 10.0 s')
    expect(lines[10]).toBe('model.gguf: 100%  100.0 MB / 100.0 MB  5.0 MB/s')
    expect(s.text()).not.toContain('\u001b')
  })

  it('redraws one line on a terminal and counts only the bytes of this run after a resume', () => {
    const s = stream(true)
    const c = clock()
    const bar = progressBar(s, { now: c.now })
    const mb = 1024 ** 2
    bar.update({ label: 'm.gguf', received: 60 * mb, total: 100 * mb, resumed: 60 * mb })
    c.advance(2000)
    bar.update({ label: 'm.gguf', received: 80 * mb, total: 100 * mb, resumed: 60 * mb })
    bar.done()
    const frames = s.text().split('\r\u001b[2K').filter(Boolean)
    expect(frames.at(-1)).toBe(
      'm.gguf [███████████████████░░░░░] 80%  80.0 MB / 100.0 MB  10.0 MB/s  ETA 2.0 s  (resumed at 60.0 MB)\n',
    )
    // On a narrow terminal the bar gives way to the figures.
    const narrow = { ...stream(true), columns: 70 }
    const small = progressBar(narrow, { now: c.now })
    small.update({ label: 'm.gguf', received: 50 * mb, total: 100 * mb, resumed: 0 })
    small.done()
    expect(narrow.text()).toContain('m.gguf [█████░░░░] 50%  50.0 MB / 100.0 MB')
  })
})

describe('job progress', () => {
  const job = (done: number, extra: Partial<JobJson> = {}): JobJson => ({
    id: 'job-0001',
    type: 'embed',
    status: 'RUNNING',
    source: { kind: 'jsonl', path: '/d/docs.jsonl' },
    order: 'input',
    failFast: false,
    createdAt: 0,
    items: { done, failed: 2, inFlight: 8 },
    progress: { fraction: (done + 2) / 10_000, itemsPerSec: 1234.5, etaMs: 3900 },
    ...extra,
  })

  it('shows the bar, items, rate, time left and failures, and what it waits for', () => {
    expect(jobFigures(job(5198))).toBe(
      '[██████████░░░░░░░░░░] 52%  5,200 items  1,234.5 items/s  ETA 3.9 s  2 failed',
    )
    expect(
      jobFigures(
        job(98, {
          items: { done: 98, failed: 2, inFlight: 0, total: 100 },
          progress: { itemsPerSec: 0 },
          waitingSince: 1,
        }),
        false,
      ),
    ).toBe('100 / 100 items  2 failed  waiting for a peer that runs it')
  })

  it('draws one line in place on a terminal, and a plain line every 10 % otherwise', () => {
    let t = 0
    const tty = stream(true)
    const onTerminal = jobProgress(tty, { now: () => t })
    for (const done of [0, 1000, 2000]) {
      t += 200
      onTerminal.update(job(done))
    }
    onTerminal.done()
    expect(tty.text().split('\r\u001b[2K')).toHaveLength(5)
    expect(tty.text().endsWith('\n')).toBe(true)

    const piped = stream(false)
    const plain = jobProgress(piped, { now: () => t })
    for (let done = 0; done <= 9998; done += 500) plain.update(job(done))
    plain.update(job(9998, { status: 'COMPLETED' }))
    plain.done()
    const lines = piped.text().trimEnd().split('\n')
    expect(lines).toHaveLength(11)
    expect(lines[0]).toBe('job job-0001: 0%  2 items  1,234.5 items/s  ETA 3.9 s  2 failed')
    expect(lines[10]).toContain('job job-0001: 100%  10,000 items')
    expect(piped.text()).not.toContain('\u001b')
  })
})

describe('formatting', () => {
  it('aligns table columns by visible width, colours included', () => {
    const c = colours(true)
    const out = stripAnsi(
      table(
        ['A', 'B'],
        [
          [c.green('xx'), 'y'],
          ['z', 'w'],
        ],
        c,
      ),
    ).split('\n')
    expect(out).toEqual(['A   B', 'xx  y', 'z   w'])
  })

  it('reads durations and shortens PeerIds', () => {
    expect([duration(180), duration(4200), duration(192_000), duration(3_720_000)]).toEqual([
      '180 ms',
      '4.2 s',
      '3m 12s',
      '1h 02m',
    ])
    expect(shortId('12D3KooWPnaoheHZSKDnEheUxnszQ4GQZL2NW7tw7QV4RBqXdP8V')).toBe('12D3KooW…qXdP8V')
  })
})

describe('node peers', () => {
  it('lists a banned peer with the end of its ban and why', () => {
    const now = Date.now()
    const base = {
      addresses: ['/ip4/127.0.0.1/tcp/4001'],
      lastSeen: now,
      protocols: [],
      protocolMinor: 2,
      outstanding: 0,
      reputation: {} as never,
      connectedAt: now,
      reconnectAttempts: 0,
    }
    const until = new Date(now)
    until.setHours(23, 59, 30, 0)
    const out = stripAnsi(
      formatPeers(
        [
          { ...base, peerId: '12D3KooWGood', status: 'connected' },
          {
            ...base,
            peerId: '12D3KooWFlood',
            status: 'banned',
            bannedUntil: until.getTime(),
            banReason: 'ignored-retry-after',
          },
        ],
        colours(false),
      ),
    )
    expect(out).toMatch(/12D3KooWFlood\s+banned\s+-\s+.+ ago\s+banned until 23:59:30 \(ignored-retry-after\)/)
    expect(out).toContain('1 connected (0 through a relay), 0 failed, 1 banned')
    expect(clockTime(Date.UTC(2030, 0, 2, 3, 4), now)).toMatch(/^2030-01-0\d \d\d:\d\d$/)
  })
})
