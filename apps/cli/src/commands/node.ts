import type { ResourceStatus } from '@p2p-ai/node'
import { describePause } from '@p2p-ai/node/control'
import { bool, num } from '../args/parse.js'
import type { Handler, Parsed } from '../args/spec.js'
import { EXIT, STOP_TIMEOUT_MS } from '../constants.js'
import type { ControlClient } from '../control/client.js'
import type { LogLevel, PeerJson, StatusJson } from '../control/types.js'
import { readSupervisorState } from '../daemon/supervisor-state.js'
import { NodeNotRunningError, NodeStopError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { isNodeProcess, readControlInfo, readPid, removeStaleFiles } from '../runtime.js'
import type { Colours } from '../term/colour.js'
import { ago, bytes, clockTime, duration, fields, shortId, statusColour, table } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { connect, locate, sleep } from './common.js'
import { monitor } from './monitor.js'

const start: Handler = async (parsed, io) => (await import('../daemon/start.js')).startCommand(parsed, io)

const status: Handler = async (parsed, io) => {
  const { client, dataDir } = await connect(parsed, io)
  const s = await client.status()
  // The watchdog of a node run in the background, when it watches this one.
  const watchdog = await readSupervisorState(dataDir)
  const watched = watchdog?.nodePid === s.pid && isNodeProcess(watchdog.pid) ? watchdog : undefined
  const supervisor: WatchdogJson | undefined =
    watched === undefined
      ? undefined
      : {
          pid: watched.pid,
          restarts: watched.restarts,
          ...(watched.lastExit === undefined ? {} : { lastExit: watched.lastExit }),
        }
  if (bool(parsed.options, 'json')) {
    printJson(io, { ...s, control: { url: client.url }, ...(supervisor === undefined ? {} : { supervisor }) })
  } else {
    println(io, formatStatus(s, client.url, io.out, supervisor))
  }
  return EXIT.OK
}

/** The watchdog of a node run in the background, as `node status` shows it. */
interface WatchdogJson {
  readonly pid: number
  readonly restarts: number
  readonly lastExit?: string
}

export function formatStatus(s: StatusJson, url: string, c: Colours, watchdog?: WatchdogJson): string {
  const head =
    s.state === 'ACTIVE'
      ? `${c.green('●')} node is running ${c.dim(`(${s.state}${s.ready ? ', ready' : ', not ready'})`)}`
      : `${c.yellow('●')} node is ${statusColour(s.state, c)}`
  const health =
    s.health === undefined
      ? c.dim('no health round yet')
      : `${statusColour(s.health.status, c)} ${c.dim(
          `(${s.health.components.map((x) => `${x.name}: ${x.detail ?? x.status}`).join(', ')})`,
        )}`
  const t = s.tasks
  const n = s.network
  // Continuation lines line up with the values: the widest label ('reachability:') and a space.
  const indent = `\n${' '.repeat(14)}`
  const list = (items: readonly string[]): string => (items.length === 0 ? c.dim('none') : items.join(indent))
  const rows: Array<[string, string]> = [
    ['PeerId', s.peerId],
    ['pid', String(s.pid)],
    ['uptime', s.startedAt === undefined ? '-' : duration(s.uptimeMs)],
    ['data dir', s.dataDir],
    ['reachability', formatReachability(n, c)],
    ['addresses', list(s.addresses)],
    ['observed', list(n.observed)],
    ['relays', formatRelays(n, c)],
    ['hole punch', formatHolePunch(n, c)],
    [
      'dht',
      n.dht.mode === 'off'
        ? c.dim('off')
        : `${n.dht.mode}, advertising ${n.dht.advertised.length} capabilities`,
    ],
    ['peers', `${s.connectedPeers} connected`],
    ['health', health],
    ['alerts', formatAlerts(s, c, indent)],
    [
      'tasks',
      `${t.completed} completed, ${t.failed + t.timedOut} failed, ${t.cancelled} cancelled, ${t.running} running, ${t.queued} queued`,
    ],
    ['runs', s.capabilities.taskTypes.join(', ') || c.dim('nothing')],
    ['models', s.capabilities.models.join(', ') || c.dim('none')],
    ['memory', `${bytes(s.process.rssBytes)} resident`],
    ...(s.resources === undefined ? [] : resourceRows(s.resources, c)),
    ...(watchdog === undefined ? [] : [['watchdog', formatWatchdog(watchdog, c)] as [string, string]]),
    ['control', url],
    ...(s.metrics === undefined ? [] : [['metrics', s.metrics.url] as [string, string]]),
    ...(s.dashboard === undefined ? [] : [['dashboard', s.dashboard.url] as [string, string]]),
    ['version', `node ${s.version}, cli ${s.cliVersion}`],
  ]
  return `${head}\n${fields(rows, c)}`
}

function formatWatchdog(w: WatchdogJson, c: Colours): string {
  const restarts = `${w.restarts} restart${w.restarts === 1 ? '' : 's'}`
  return `pid ${w.pid} ${c.dim(`(restarts the node after a crash; ${restarts}${w.lastExit === undefined ? '' : `, the last after ${w.lastExit}`})`)}`
}

function formatReachability(n: StatusJson['network'], c: Colours): string {
  const words = {
    public: `${c.green('public')} ${c.dim('(peers on the internet dial it directly)')}`,
    private: `${c.yellow('private')} ${c.dim('(behind NAT: reached through relays, direct where hole punching works)')}`,
    unknown: `unknown ${c.dim('(no peer on a public address has talked to it yet)')}`,
  }
  return words[n.reachability]
}

function formatRelays(n: StatusJson['network'], c: Colours): string {
  const held =
    n.relays.length === 0 ? c.dim('no reservation') : `reserved on ${n.relays.map(shortId).join(', ')}`
  const served = n.relayServer.enabled
    ? `; relaying for others (${n.relayServer.reservations} reservations)`
    : ''
  return held + served
}

function formatHolePunch(n: StatusJson['network'], c: Colours): string {
  const p = n.holePunch
  if (p === undefined) return c.dim('off')
  // A public node is dialled directly; it keeps no punch port mapping to show.
  if (n.reachability === 'public' && p.punched + p.failed === 0) return c.dim('not needed (public address)')
  const where =
    p.observed.length === 0
      ? c.dim('mapping not observed yet')
      : `${p.observed.join(', ')} (${p.mapping.replaceAll('-', ' ')})`
  return `port ${p.port} → ${where}; ${p.punched} punched, ${p.failed} failed`
}

const percent = (share: number): string => `${Math.round(share * 100)} %`

/** The machine, the owner's limits, and whether the node takes tasks from peers. */
function resourceRows(r: ResourceStatus, c: Colours): Array<[string, string]> {
  const rows: Array<[string, string]> = []
  const s = r.snapshot
  if (s === undefined) rows.push(['machine', c.dim('measuring…')])
  else {
    const battery =
      s.battery === undefined
        ? s.batterySupport === 'unsupported'
          ? ', battery unknown on this OS'
          : ''
        : `, battery${s.battery.percent === undefined ? '' : ` ${s.battery.percent} %`}${s.battery.onBattery ? ' (on battery)' : ''}`
    rows.push([
      'machine',
      `cpu ${percent(s.cpu.machine)} (this node ${percent(s.cpu.node)}, others ${percent(s.cpu.others)}), load ${s.load[0].toFixed(2)}, ${bytes(s.memory.availableBytes)} of ${bytes(s.memory.totalBytes)} memory free${battery}`,
    ])
    if (s.disk !== undefined) {
      const data = s.disk.dataDirBytes === undefined ? '' : `data dir ${bytes(s.disk.dataDirBytes)}, `
      rows.push(['disk', `${data}${bytes(s.disk.freeBytes)} free`])
    }
  }
  const l = r.limits
  const limits = [
    `cpu ${percent(l.cpu)}`,
    `models ${bytes(r.models.usedBytes)} of ${bytes(r.models.limitBytes)}`,
    ...(l.memoryBytes === undefined ? [] : [`memory ${bytes(l.memoryBytes)}`]),
    ...(l.diskBytes === undefined ? [] : [`disk ${bytes(l.diskBytes)}`]),
    ...(l.idleOnly ? ['idle only'] : []),
    ...(l.windows.length === 0 ? [] : [`windows ${l.windows.join(', ')}`]),
    ...(l.pauseOnBattery ? ['not on battery'] : []),
  ]
  rows.push(['limits', limits.join(', ')])
  const notes = [
    ...(r.throttled ? ['holding tasks back for the CPU limit'] : []),
    ...(r.overMemory ? [c.yellow('over the memory limit')] : []),
    ...(r.overDisk ? [c.yellow('over the disk limit')] : []),
  ]
  const serving = r.paused
    ? `${c.yellow('paused')}: ${describePause(r.pauseReasons)} ${c.dim(`(for ${duration(Date.now() - r.since)})`)}`
    : `${c.green('taking tasks')} from peers`
  rows.push(['serving', [serving, ...notes].join('; ')])
  return rows
}

/** The alerts raised now, one per line with what to do; `none` when all is well. */
function formatAlerts(s: StatusJson, c: Colours, indent: string): string {
  // A node of an older version answers without alerts.
  const active = (s.alerts ?? []).filter((a) => a.active)
  if (active.length === 0) return c.green('none')
  return active
    .map((a) => `${c.yellow('▲')} ${c.bold(a.name)}: ${a.message} ${c.dim(`(${a.hint})`)}`)
    .join(indent)
}

const logLevel: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const wanted = parsed.args[0] as LogLevel | undefined
  const answer = wanted === undefined ? await client.logLevel() : await client.setLogLevel(wanted)
  if (bool(parsed.options, 'json')) printJson(io, answer)
  else if (answer.previous === undefined) println(io, answer.level)
  else if (answer.previous === answer.level) println(io, `the log level is already ${answer.level}`)
  else
    println(
      io,
      `${io.out.green('✔')} log level ${answer.previous} → ${io.out.bold(answer.level)} ${io.out.dim('(until the node restarts or its config file changes)')}`,
    )
  return EXIT.OK
}

const metrics: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  io.stdout.write(await client.metrics())
  return EXIT.OK
}

const peers: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const list = await client.peers()
  if (bool(parsed.options, 'json')) {
    printJson(io, list)
    return EXIT.OK
  }
  println(io, formatPeers(list, io.out))
  return EXIT.OK
}

const unban: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const answer = await client.unban(parsed.args[0] as string)
  if (bool(parsed.options, 'json')) printJson(io, answer)
  else if (answer.unbanned)
    println(io, `${io.out.green('✔')} unbanned ${answer.peerId}: it may connect again`)
  else println(io, `${answer.peerId} is not banned`)
  return EXIT.OK
}

export function formatPeers(list: readonly PeerJson[], c: Colours): string {
  if (list.length === 0) {
    return `no peers yet ${c.dim('(nodes on this network are found by mDNS; others can be dialled with --bootstrap)')}`
  }
  const rows = list.map((p) => [
    p.peerId,
    statusColour(p.status, c),
    p.connection === undefined
      ? '-'
      : p.connection.kind === 'direct'
        ? 'direct'
        : c.yellow(`relayed via ${p.connection.via === undefined ? '?' : shortId(p.connection.via)}`),
    p.rttMs === undefined ? '-' : `${Math.round(p.rttMs)} ms`,
    p.lastSeen === 0 ? '-' : ago(p.lastSeen),
    noteOf(p, c),
  ])
  const count = (status: PeerJson['status']): number => list.filter((p) => p.status === status).length
  const relayed = list.filter((p) => p.status === 'connected' && p.connection?.kind === 'relayed').length
  const banned = count('banned')
  const summary = `${count('connected')} connected (${relayed} through a relay), ${count('failed')} failed${banned === 0 ? '' : `, ${banned} banned`}`
  return `${table(['PEER', 'STATUS', 'CONNECTION', 'RTT', 'LAST SEEN', 'ADDRESS / NOTE'], rows, c)}\n${c.dim(summary)}`
}

/** The last column of `node peers`: where it is, or why it is not. */
function noteOf(p: PeerJson, c: Colours): string {
  if (p.status === 'failed') return `${p.failureReason ?? 'failed'}; redial ${p.reconnectAttempts}`
  if (p.status === 'banned' && p.bannedUntil !== undefined) {
    return `banned until ${clockTime(p.bannedUntil)} (${p.banReason ?? 'misbehaviour'})`
  }
  const address = p.connection?.remoteAddr ?? p.addresses[0] ?? '-'
  if (p.capabilities?.resources?.paused === true)
    return `${c.yellow('paused')} (its owner's limits); ${address}`
  return address
}

const connectHandler: Handler = async (parsed, io) => {
  const { client } = await connect(parsed, io)
  const address = parsed.args[0]!
  await client.connect(address)
  const peerId = address.startsWith('/') ? /\/p2p\/([^/]+)$/.exec(address)?.[1] : address
  const peer = peerId === undefined ? undefined : (await client.peers()).find((p) => p.peerId === peerId)
  const how =
    peer?.connection === undefined
      ? ''
      : peer.connection.kind === 'direct'
        ? ' (direct)'
        : ` (relayed via ${peer.connection.via === undefined ? '?' : shortId(peer.connection.via)})`
  if (bool(parsed.options, 'json')) {
    printJson(io, { connected: true, address, peerId: peerId ?? null, connection: peer?.connection ?? null })
  } else
    println(io, `${io.out.green('✔')} connected to ${peerId === undefined ? address : shortId(peerId)}${how}`)
  return EXIT.OK
}

const stop: Handler = async (parsed, io) => {
  const { dataDir } = await locate(parsed, io)
  const timeoutMs = (num(parsed.options, 'timeout') ?? STOP_TIMEOUT_MS / 1000) * 1000
  const info = await readControlInfo(dataDir)
  const pid = info?.pid ?? (await readPid(dataDir))
  const nodeRunning = pid !== undefined && isNodeProcess(pid)
  // A node run in the background has a watchdog: stopping it stops the node gracefully (as a
  // signal to the node would) and keeps it from restarting the node, also when the node is down
  // and the watchdog waits to restart it.
  const watchdog = await readSupervisorState(dataDir)
  const watchdogPid =
    watchdog !== undefined && watchdog.state !== 'gave-up' && isNodeProcess(watchdog.pid)
      ? watchdog.pid
      : undefined
  if (!nodeRunning && watchdogPid === undefined) {
    if (pid !== undefined) await removeStaleFiles(dataDir, await readPid(dataDir))
    throw new NodeNotRunningError(
      dataDir,
      pid === undefined ? '' : ` (removed a stale pid file: pid ${pid} is not running)`,
    )
  }
  let peerId: string | undefined
  let client: ControlClient | undefined
  try {
    const { connectToNode } = await import('../control/client.js')
    client = await connectToNode(dataDir)
    peerId = (await client.status({ timeoutMs: 3000 })).peerId
    if (watchdogPid === undefined) await client.shutdown({ timeoutMs: 3000 })
  } catch (err) {
    if (err instanceof NodeNotRunningError && watchdogPid === undefined) throw err
    // The control API is not answering: fall back to a signal, which the node handles the same way.
    if (watchdogPid === undefined && pid !== undefined) process.kill(pid, 'SIGTERM')
  }
  if (watchdogPid !== undefined) process.kill(watchdogPid, 'SIGTERM')
  const waitingFor = [nodeRunning ? pid : undefined, watchdogPid].filter((p) => p !== undefined)
  const spin = spinner(io.stderr, `stopping the node (pid ${waitingFor.join(' and ')})…`)
  const deadline = Date.now() + timeoutMs
  while (waitingFor.some(isNodeProcess)) {
    if (Date.now() > deadline) {
      spin.stop()
      const left = waitingFor.filter(isNodeProcess)
      throw new NodeStopError(
        `the node (pid ${left.join(' and ')}) did not exit within ${duration(timeoutMs)}`,
        `it may still be finishing tasks; wait, or end it with \`kill ${left.join(' ')}\` (a second signal stops it at once)`,
      )
    }
    await sleep(100, io.signal)
  }
  // A node that exited cleanly removed its files; one that was killed did not.
  if (pid !== undefined && (await readPid(dataDir)) === pid) await removeStaleFiles(dataDir, pid)
  spin.stop()
  if (bool(parsed.options, 'json')) {
    printJson(io, {
      stopped: true,
      pid: nodeRunning ? pid : null,
      peerId: peerId ?? null,
      supervisorPid: watchdogPid ?? null,
    })
  } else {
    const what = nodeRunning
      ? `the node${peerId === undefined ? '' : ` ${shortId(peerId)}`} (pid ${pid})`
      : 'the node'
    const and = watchdogPid === undefined ? '' : ` and its watchdog (pid ${watchdogPid})`
    println(io, `${io.out.green('✔')} stopped ${what}${and}`)
  }
  return EXIT.OK
}

const monitorHandler: Handler = async (parsed: Parsed, io: Io) => {
  const { client } = await connect(parsed, io)
  return monitor(client, io, {
    intervalMs: (num(parsed.options, 'interval') ?? 2) * 1000,
    durationMs: (num(parsed.options, 'duration') ?? 0) * 1000,
    json: bool(parsed.options, 'json'),
  })
}

export const handlers: Record<string, Handler> = {
  start,
  stop,
  status,
  'log-level': logLevel,
  metrics,
  peers,
  unban,
  connect: connectHandler,
  monitor: monitorHandler,
}
