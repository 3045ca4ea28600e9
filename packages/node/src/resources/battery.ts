/**
 * The battery, where the OS tells: Linux's `/sys/class/power_supply` and macOS's `pmset -g batt`.
 * Other systems (Windows, the BSDs) are `unsupported`: the node cannot pause on battery there, and
 * says so in its status.
 */
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BatteryState, BatterySupport } from './types.js'

/** Linux's power supply class. */
export const LINUX_POWER_SUPPLY_DIR = '/sys/class/power_supply'

/** One power supply as Linux describes it (the files of its directory that matter here). */
export interface LinuxPowerSupply {
  /** `Battery`, `Mains`, `USB`, `UPS`... */
  readonly type: string
  /** Mains and USB: `1` when plugged in. */
  readonly online?: string
  /** Batteries: `Charging`, `Discharging`, `Full`, `Not charging`, `Unknown`. */
  readonly status?: string
  /** Batteries: charge in percent. */
  readonly capacity?: string
  /** Batteries of peripherals (a mouse) say `Device`; the machine's own say `System` or nothing. */
  readonly scope?: string
}

/**
 * The machine's battery from its power supplies; undefined when it has none (a desktop, a server).
 * On battery means: no mains or USB supply online, and a battery not charging.
 */
export function batteryFromLinux(supplies: readonly LinuxPowerSupply[]): BatteryState | undefined {
  const batteries = supplies.filter((s) => s.type === 'Battery' && s.scope !== 'Device')
  if (batteries.length === 0) return undefined
  const mains = supplies.some(
    (s) => (s.type === 'Mains' || s.type.startsWith('USB')) && s.online?.trim() === '1',
  )
  const statuses = batteries.map((b) => b.status?.trim() ?? 'Unknown')
  const charging = statuses.includes('Charging')
  const discharging = statuses.includes('Discharging')
  const capacities = batteries.map((b) => Number(b.capacity)).filter((n) => Number.isFinite(n))
  return {
    onBattery: !mains && (discharging || !charging),
    charging,
    ...(capacities.length === 0
      ? {}
      : { percent: Math.round(capacities.reduce((a, b) => a + b, 0) / capacities.length) }),
  }
}

/** Reads Linux's power supplies; an empty list where the class does not exist (containers). */
export async function readLinuxSupplies(dir = LINUX_POWER_SUPPLY_DIR): Promise<LinuxPowerSupply[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const read = (name: string, file: string): Promise<string | undefined> =>
    readFile(join(dir, name, file), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    )
  return Promise.all(
    names.map(async (name) => {
      const [type, online, status, capacity, scope] = await Promise.all(
        ['type', 'online', 'status', 'capacity', 'scope'].map((file) => read(name, file)),
      )
      return {
        type: type ?? 'Unknown',
        ...(online === undefined ? {} : { online }),
        ...(status === undefined ? {} : { status }),
        ...(capacity === undefined ? {} : { capacity }),
        ...(scope === undefined ? {} : { scope }),
      }
    }),
  )
}

/**
 * The battery from `pmset -g batt`:
 *
 * ```
 * Now drawing from 'Battery Power'
 *  -InternalBattery-0 (id=4653155)	82%; discharging; 4:01 remaining present: true
 * ```
 *
 * Undefined when the machine has no internal battery.
 */
export function batteryFromPmset(text: string): BatteryState | undefined {
  const line = text.split('\n').find((l) => /InternalBattery/.test(l))
  if (line === undefined) return undefined
  const percent = /(\d+)%/.exec(line)
  const state = /;\s*([a-z ]+?)\s*;/i.exec(line)?.[1]?.toLowerCase()
  return {
    onBattery: /'Battery Power'/.test(text),
    charging: state === 'charging',
    ...(percent === null ? {} : { percent: Number(percent[1]) }),
  }
}

/** Whether `platform` can tell the battery state. */
export function batterySupport(platform: NodeJS.Platform): BatterySupport {
  return platform === 'linux' || platform === 'darwin' ? 'supported' : 'unsupported'
}

/** Reads the battery of this machine; undefined when it has none or the OS cannot tell. */
export async function readBattery(
  platform: NodeJS.Platform = process.platform,
): Promise<BatteryState | undefined> {
  if (platform === 'linux') return batteryFromLinux(await readLinuxSupplies())
  if (platform === 'darwin') {
    const text = await new Promise<string>((resolve) => {
      execFile('pmset', ['-g', 'batt'], { timeout: 2_000 }, (err, stdout) => resolve(err ? '' : stdout))
    })
    return batteryFromPmset(text)
  }
  return undefined
}
