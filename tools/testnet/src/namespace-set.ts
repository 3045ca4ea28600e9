import type { ChildProcess } from 'node:child_process'
import { registerTeardown, unregisterTeardown } from './cleanup.js'
import { TestnetDestroyedError } from './errors.js'
import { ip, ipSync } from './ip.js'

/**
 * The lifecycle every simulated network shares: the namespaces it created and the processes it
 * started in them, torn down together by `destroy()`, `await using`, an exit signal or process exit.
 */
export abstract class NamespaceSet implements AsyncDisposable {
  readonly runId: string

  private readonly children = new Set<ChildProcess>()
  private destroyed = false
  private readonly teardown = { sync: (): void => this.destroySync() }

  constructor(runId: string) {
    this.runId = runId
  }

  /** Every namespace of this network, in the order they are deleted (bridges last). */
  abstract get namespaces(): string[]

  /** @internal */
  assertLive(): void {
    if (this.destroyed) {
      throw new TestnetDestroyedError(`testnet ${this.runId} was destroyed`)
    }
  }

  /** @internal */
  track(child: ChildProcess): void {
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
  }

  /** @internal Arms the exit-time teardown; call before creating the first namespace. */
  protected armTeardown(): void {
    registerTeardown(this.teardown)
  }

  /** Kills every process started in the hosts and deletes all namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) {
      return
    }
    this.destroyed = true
    await Promise.all(
      [...this.children].map(
        async (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolve()
              return
            }
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
    for (const namespace of this.namespaces) {
      await ip(['netns', 'del', namespace]).catch(() => {})
    }
    unregisterTeardown(this.teardown)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }

  private destroySync(): void {
    if (this.destroyed) {
      return
    }
    this.destroyed = true
    for (const child of this.children) {
      child.kill('SIGKILL')
    }
    for (const namespace of this.namespaces) {
      ipSync(['netns', 'del', namespace])
    }
  }
}
