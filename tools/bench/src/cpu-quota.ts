/**
 * CPU quotas for benchmark processes: a cgroup per process, each limited to the same CPU time per
 * period, so that N processes are N equal, small machines on one host. Uses the cgroup v1 CPU
 * controller (`cpu.cfs_quota_us`, as on hybrid hosts where `/sys/fs/cgroup` is a tmpfs) or cgroup
 * v2 (`cpu.max`, where `/sys/fs/cgroup` is the unified hierarchy); needs root.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const V1_CPU = '/sys/fs/cgroup/cpu'
const V2_ROOT = '/sys/fs/cgroup'

/** One cgroup per process, each with the same quota. */
export interface CpuQuotas {
  /** `v1` (`cpu.cfs_quota_us`) or `v2` (`cpu.max`). */
  readonly version: 'v1' | 'v2'
  /** One cgroup directory per process: write its PID to `<path>/cgroup.procs`. */
  readonly paths: readonly string[]
  /**
   * Periods in which the processes of each cgroup wanted more CPU than the quota gave
   * (`nr_throttled` of `cpu.stat`), summed: zero means the quota never bit.
   */
  throttledPeriods(): number
  /** Removes the cgroups (their processes must have exited). */
  remove(): void
}

/**
 * Makes `count` cgroups of `quotaUs` CPU time per `periodUs` each.
 *
 * @throws an Error that says what this machine lacks, when neither controller can be used
 */
export function cpuQuotas(count: number, quotaUs: number, periodUs: number): CpuQuotas {
  const version = controller()
  const parent = version === 'v1' ? V1_CPU : V2_ROOT
  const root = join(parent, `p2p-ai-bench-${process.pid}`)
  if (version === 'v2') {
    // The controller must be handed down to our cgroup before it can hand it to its children.
    const subtree = join(V2_ROOT, 'cgroup.subtree_control')
    if (!readFileSync(subtree, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(subtree, '+cpu')
  }
  mkdirSync(root)
  const paths: string[] = []
  try {
    if (version === 'v2') writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu')
    for (let i = 0; i < count; i++) {
      const dir = join(root, `p${i}`)
      mkdirSync(dir)
      paths.push(dir)
      if (version === 'v1') {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs))
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs))
      } else {
        writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`)
      }
    }
  } catch (err) {
    for (const dir of paths.reverse()) rmdirSync(dir)
    rmdirSync(root)
    throw err
  }
  return {
    version,
    paths,
    throttledPeriods() {
      let sum = 0
      for (const dir of paths) {
        const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8')
        sum += Number(/^nr_throttled (\d+)$/m.exec(stat)?.[1] ?? 0)
      }
      return sum
    },
    remove() {
      for (const dir of paths) rmdirSync(dir)
      rmdirSync(root)
    },
  }
}

/** Which CPU controller this machine offers to root; throws saying why when none. */
function controller(): 'v1' | 'v2' {
  if (process.getuid?.() !== 0) {
    throw new Error('CPU quotas need root (a cgroup per process); this bench runs as another user')
  }
  if (existsSync(join(V1_CPU, 'cpu.cfs_quota_us'))) return 'v1'
  const controllers = join(V2_ROOT, 'cgroup.controllers')
  if (existsSync(controllers)) {
    if (readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) return 'v2'
    throw new Error(
      `cgroup v2 is mounted at ${V2_ROOT}, but its cpu controller is not enabled (${controllers})`,
    )
  }
  throw new Error(
    `no CPU controller: neither cgroup v1 (${V1_CPU}/cpu.cfs_quota_us) nor cgroup v2 (${controllers}) is mounted`,
  )
}
