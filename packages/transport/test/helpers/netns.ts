import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const run = promisify(execFile)
const IP = process.env.IP_BIN ?? '/usr/sbin/ip'

/**
 * Fails (never skips) when this process cannot create network namespaces: these tests need root
 * and iproute2, which CI has.
 */
export async function assertNetnsAvailable(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `this test needs root to create network namespaces (uid ${process.getuid?.()}); run it as root, as CI does`,
    )
  }
  try {
    await run(IP, ['netns', 'list'])
  } catch (err) {
    throw new Error(`this test needs 'ip netns' from iproute2 at ${IP}: ${(err as Error).message}`)
  }
}

/**
 * A fresh network namespace with only a loopback interface: nothing sent inside can reach any
 * real network. Deleted on dispose.
 */
export async function isolatedNamespace(): Promise<AsyncDisposable & { name: string }> {
  const name = `p2pt-${process.pid}-${randomBytes(3).toString('hex')}`
  await run(IP, ['netns', 'add', name])
  try {
    await run(IP, ['-n', name, 'link', 'set', 'lo', 'up'])
  } catch (err) {
    await run(IP, ['netns', 'del', name]).catch(() => {})
    throw err
  }
  return {
    name,
    async [Symbol.asyncDispose]() {
      await run(IP, ['netns', 'del', name])
    },
  }
}

/** Runs `node script args…` inside the namespace and parses the last JSON line it prints. */
export async function runNodeInNamespace(
  namespace: string,
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', namespace, process.execPath, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} timed out after ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const last = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0) {
        reject(new Error(`${script} exited with ${code}; stdout: ${stdout}; stderr: ${stderr}`))
        return
      }
      try {
        resolve(JSON.parse(last))
      } catch {
        reject(new Error(`${script} printed no JSON result; stdout: ${stdout}; stderr: ${stderr}`))
      }
    })
  })
}
