import { execFileSync } from 'node:child_process'
import os from 'node:os'

/** The machine a benchmark ran on, recorded in every results file. */
export interface MachineInfo {
  /** e.g. `AMD EPYC 7B13`; `unknown` when the OS does not say. */
  cpuModel: string
  /** Logical CPUs the OS reports. */
  cores: number
  /** CPUs this process may use (cgroup/affinity limits included). */
  availableParallelism: number
  totalMemoryMb: number
  nodeVersion: string
  v8Version: string
  platform: NodeJS.Platform
  arch: string
  osRelease: string
  /** Whether `global.gc` was exposed, so memory cases could collect between rounds. */
  gcExposed: boolean
  /** `git rev-parse HEAD` of the working tree, when available. */
  gitCommit?: string
  /** Whether the working tree had uncommitted changes. */
  gitDirty?: boolean
}

/** Describes this machine and, when `cwd` is in a git work tree, its commit. */
export function machineInfo(cwd: string = process.cwd()): MachineInfo {
  const cpus = os.cpus()
  const info: MachineInfo = {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    nodeVersion: process.version,
    v8Version: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
  }
  const commit = git(cwd, ['rev-parse', 'HEAD'])
  if (commit !== undefined) {
    info.gitCommit = commit
    const status = git(cwd, ['status', '--porcelain', '--untracked-files=no'])
    if (status !== undefined) info.gitDirty = status !== ''
  }
  return info
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim()
  } catch {
    // Not a git checkout, or git is not installed: the results are still valid without it.
    return undefined
  }
}
