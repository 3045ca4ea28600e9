import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as content from '@p2p-ai/content'
import * as dashboard from '@p2p-ai/dashboard'
import * as engine from '@p2p-ai/engine'
import * as identity from '@p2p-ai/identity'
import * as llama from '@p2p-ai/llama'
import * as metrics from '@p2p-ai/metrics'
import * as node from '@p2p-ai/node'
import * as onnx from '@p2p-ai/onnx'
import * as protocol from '@p2p-ai/protocol'
import * as tracing from '@p2p-ai/tracing'
import * as transport from '@p2p-ai/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT } from '../src/constants.js'
import { explain, hintFor, KNOWN_CODES, policyOf } from '../src/error-policy.js'
import * as cliErrors from '../src/errors.js'
import { createIo } from '../src/io.js'
import { report } from '../src/main.js'
import { cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

afterEach(cleanUp)

/** Every error class a module exports: the ones with a static `code`. */
function codesOf(module: Record<string, unknown>): Array<[string, string]> {
  return Object.entries(module).flatMap(([name, value]) => {
    const code = typeof value === 'function' ? (value as { code?: unknown }).code : undefined
    return typeof code === 'string' ? [[name, code] as [string, string]] : []
  })
}

const PACKAGES = {
  identity,
  protocol,
  transport,
  engine,
  node,
  metrics,
  dashboard,
  onnx,
  llama,
  tracing,
  content,
} as Record<string, Record<string, unknown>>
const EXIT_CODES = new Set<number>(Object.values(EXIT))

/** Captures what `report` prints. */
function reported(err: unknown): { exit: number; text: string } {
  let text = ''
  const io = createIo({ stderr: { write: (s: string) => (text += s) }, env: {} })
  return { exit: report(err, io), text }
}

describe('the table of error codes', () => {
  it('has an exit code and a hint for the code of every error class the packages export', () => {
    const missing: string[] = []
    let classes = 0
    for (const [pkg, module] of Object.entries(PACKAGES)) {
      for (const [name, code] of codesOf(module)) {
        classes++
        const policy = policyOf(code)
        if (policy === undefined) {
          missing.push(`@p2p-ai/${pkg} ${name} (${code})`)
          continue
        }
        expect(EXIT_CODES.has(policy.exit), code).toBe(true)
        // A hint that needs its context still says something without it.
        expect(hintFor(code)!.length, code).toBeGreaterThan(15)
      }
    }
    expect(missing).toEqual([])
    expect(classes).toBeGreaterThan(80)
  })

  it("covers the CLI's own error classes too", () => {
    const own = codesOf(cliErrors as unknown as Record<string, unknown>).filter(
      ([, code]) => code !== cliErrors.ControlApiError.code,
    )
    expect(own.length).toBeGreaterThan(10)
    for (const [name, code] of own) expect(policyOf(code), name).toBeDefined()
    expect(new cliErrors.UsageError('x').exitCode).toBe(EXIT.USAGE)
    expect(new cliErrors.NodeNotRunningError('/d').exitCode).toBe(EXIT.NOT_RUNNING)
  })

  it('names no code twice in a different case, and only ERR_ codes besides the system errors', () => {
    const upper = KNOWN_CODES.map((c) => c.toUpperCase())
    expect(new Set(upper).size).toBe(KNOWN_CODES.length)
    for (const code of KNOWN_CODES) expect(code, code).toMatch(/^(ERR_[A-Z0-9_]+|E[A-Z]+)$/)
  })

  it('gives a coded error its hint and exit code, and calls only an uncoded one a bug', () => {
    const corrupt = new identity.KeyFileCorruptError(
      '/d/identity.json',
      'key file /d/identity.json is not JSON',
    )
    const coded = reported(corrupt)
    expect(coded.exit).toBe(EXIT.FAILURE)
    expect(coded.text).toContain('error: key file /d/identity.json is not JSON [ERR_KEY_FILE_CORRUPT]')
    expect(coded.text).toContain('hint: restore /d/identity.json from a backup')
    expect(coded.text).not.toContain('bug')

    const iface = reported(new transport.UnknownInterfaceError('nosuchif0', ['lo']))
    expect(iface.exit).toBe(EXIT.USAGE)

    const unknownCode = reported(Object.assign(new Error('something odd'), { code: 'ERR_SOMETHING_NEW' }))
    expect(unknownCode.text).toContain('[ERR_SOMETHING_NEW]')
    expect(unknownCode.text).not.toContain('bug')

    const bug = reported(new TypeError('x is not a function'))
    expect(bug.exit).toBe(EXIT.FAILURE)
    expect(bug.text).toContain('hint: this looks like a bug')
  })

  it("prefers an error's own hint, and fills a component's hint from its context", () => {
    expect(explain(new cliErrors.UsageError('bad', 'do this')).hint).toBe('do this')
    const failed = new node.StartFailedError('transport', new transport.UnknownInterfaceError('eth9', ['lo']))
    expect(explain(failed).hint).toContain('give lan, loopback, auto')
    expect(hintFor('ERR_INVALID_INPUT', { taskType: 'chunk' })).toContain('input fields of a chunk task')
  })
})

describe('node start with a damaged key file', () => {
  // Each is a mistake a person can fix: the message says what, the hint how, never "a bug".
  const cases: Array<[string, (file: string) => Promise<void>, RegExp]> = [
    [
      'ERR_KEY_FILE_CORRUPT',
      (f) => writeFile(f, '{ "format": ', { mode: 0o600 }),
      /restore .*identity\.json from a backup/,
    ],
    [
      'ERR_KEY_FILE_BAD_LENGTH',
      (f) =>
        writeFile(
          f,
          JSON.stringify({
            format: 'p2p-ai-identity',
            version: 1,
            type: 'ed25519',
            peerId: '12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV',
            publicKey: Buffer.alloc(32).toString('base64'),
            seed: Buffer.alloc(16).toString('base64'),
            createdAt: new Date(0).toISOString(),
          }),
          { mode: 0o600 },
        ),
      /restore .*identity\.json from a backup/,
    ],
    [
      'ERR_KEY_FILE_INSECURE_PERMISSIONS',
      async (f) => {
        await identity.saveIdentity(identity.generateIdentity(), f)
        await chmod(f, 0o644)
      },
      /chmod 600 .*identity\.json/,
    ],
  ]
  for (const [code, damage, hint] of cases) {
    it(`reports ${code} with what to do, in the foreground and with --detach`, async () => {
      const home = await tempHome()
      const dataDir = join(home, 'node-a')
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      await damage(join(dataDir, 'identity.json'))
      for (const extra of [[], ['--detach']]) {
        const r = await run(['node', 'start', '--data-dir', dataDir, ...LOCAL_NODE, ...extra], { home })
        expect(r.code, extra.join(' ')).toBe(EXIT.FAILURE)
        expect(r.stderr).toContain(`[${code}]`)
        expect(r.stderr).toMatch(new RegExp(`hint: .*${hint.source}`))
        expect(r.stderr).not.toContain('bug')
      }
    }, 60_000)
  }
})
