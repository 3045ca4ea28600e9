import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// A runtime without Node built-ins (a browser) is simulated in a child process by removing
// process.getBuiltinModule before the package loads.
describe('on a runtime without node:crypto and node:fs', () => {
  it('falls back to noble behind the same API, and says persistence is unsupported', async () => {
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url))
    const script = `
      delete process.getBuiltinModule
      const id = await import(${JSON.stringify(entry)})
      const identity = id.generateIdentity()
      const data = new TextEncoder().encode('hello from a browser')
      const signature = identity.sign(data)
      const load = await id.loadIdentity('/nonexistent/identity.json').then(() => 'loaded', (e) => e.code)
      console.log(JSON.stringify({
        node: id.nodeEd25519() === undefined ? 'absent' : 'present',
        provider: id.defaultEd25519().name,
        peerId: identity.peerId,
        seed: Array.from(identity.exportSeed()),
        signature: Array.from(signature),
        verified: id.verifySignature(identity.publicKey, data, signature),
        load,
      }))
    `
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
    const result = JSON.parse(stdout) as {
      node: string
      provider: string
      peerId: string
      seed: number[]
      signature: number[]
      verified: boolean
      load: string
    }
    expect(result).toMatchObject({
      node: 'absent',
      provider: 'noble',
      verified: true,
      load: 'ERR_UNSUPPORTED_RUNTIME',
    })
    // What noble made there, node:crypto here agrees with.
    const { identityFromSeed } = await import('../src/identity.js')
    const here = identityFromSeed(Uint8Array.from(result.seed))
    expect(here.peerId).toBe(result.peerId)
    expect(
      here.verify(new TextEncoder().encode('hello from a browser'), Uint8Array.from(result.signature)),
    ).toBe(true)
  })
})
