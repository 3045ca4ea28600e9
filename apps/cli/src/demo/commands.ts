import { bool, num, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { BIN_NAME, EXIT } from '../constants.js'
import { UsageError } from '../errors.js'
import { eprintln, type Io, printJson, println } from '../io.js'
import { isNodeProcess } from '../runtime.js'
import { duration, shortId, statusColour, table } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { DEFAULT_NETWORK_NODES, DEFAULT_NETWORK_TASKS, DEMO_TYPES, type DemoType } from './constants.js'
import { probe, startNetwork, stopNetwork, waitForMesh } from './nodes.js'
import { type DemoState, demoDir, readDemo, removeDemo, requireDemo, writeDemo } from './state.js'
import { type DemoRun, runDemoTasks } from './tasks.js'

/** Starts a demo network and records it; shared by `demo start` and `demo interactive`. */
export async function startDemo(
  io: Io,
  dir: string,
  count: number,
): Promise<{ state: DemoState; peers: number[] }> {
  const existing = await readDemo(dir)
  if (existing?.nodes.some((n) => isNodeProcess(n.pid)) === true) {
    throw new UsageError(
      `a demo is already running in ${dir}`,
      `see it with \`${BIN_NAME} demo stats\`; stop it with \`${BIN_NAME} demo stop\``,
    )
  }
  const spin = spinner(io.stderr, `starting ${count} nodes on 127.0.0.1…`)
  let started = 0
  let state: DemoState
  try {
    state = await startNetwork(io, dir, count, () =>
      spin.update(`starting ${count} nodes on 127.0.0.1… ${++started}/${count} up`),
    )
  } finally {
    spin.stop()
  }
  await writeDemo(dir, state)
  const wait = spinner(io.stderr, 'waiting for the nodes to find each other…')
  try {
    const peers = await waitForMesh(state, io.signal)
    return { state, peers }
  } finally {
    wait.stop()
  }
}

function printNodes(io: Io, state: DemoState, peers: readonly number[]): void {
  const c = io.out
  const rows = state.nodes.map((n, i) => [
    n.name,
    n.peerId,
    String(n.pid),
    n.address.replace(/\/p2p\/.*$/, ''),
    `${peers[i] ?? 0}/${state.nodes.length - 1}`,
  ])
  println(io, table(['NODE', 'PEER ID', 'PID', 'ADDRESS', 'PEERS'], rows, c))
}

const start: Handler = async (parsed, io) => {
  const dir = demoDir(parsed, io)
  const count = num(parsed.options, 'nodes') ?? DEFAULT_NETWORK_NODES
  const { state, peers } = await startDemo(io, dir, count)
  if (bool(parsed.options, 'json')) {
    printJson(io, { dir, ...state, peers })
    return EXIT.OK
  }
  const meshed = peers.every((p) => p >= count - 1)
  println(io, `${io.out.green('✔')} ${count} nodes running on 127.0.0.1 ${io.out.dim(`(${dir})`)}`)
  printNodes(io, state, peers)
  if (!meshed)
    eprintln(io, io.err.yellow('some nodes have not found all the others yet; `demo stats` shows the latest'))
  println(
    io,
    io.out.dim(
      `next: \`${BIN_NAME} demo tasks --count 10\`, \`${BIN_NAME} demo stats\`, \`${BIN_NAME} demo stop\``,
    ),
  )
  return EXIT.OK
}

export function printRun(io: Io, run: DemoRun): void {
  const c = io.out
  const rows = run.results.map((r) => [
    String(r.index + 1),
    r.task.id.slice(0, 8),
    r.task.type,
    statusColour(r.task.status, c),
    r.ranOn,
    r.check.ok ? c.green('✔') : c.red('✖'),
    (r.task.attempts ?? 1) > 1 ? c.yellow(`${r.task.attempts} (failed over)`) : String(r.task.attempts ?? 1),
    duration(r.wallMs),
  ])
  println(io, table(['#', 'TASK', 'TYPE', 'STATUS', 'RAN ON', 'CHECKED', 'ATTEMPTS', 'TIME'], rows, c))
  const ok = run.results.filter((r) => r.task.status === 'COMPLETED' && r.check.ok).length
  const per = new Map<string, number>()
  for (const r of run.results) per.set(r.ranOn, (per.get(r.ranOn) ?? 0) + 1)
  const spread = [...per.entries()]
    .sort()
    .map(([n, k]) => `${n} ${k}`)
    .join(', ')
  println(
    io,
    `${ok === run.results.length ? c.green('✔') : c.yellow('!')} ${ok}/${run.results.length} completed and checked in ${duration(run.wallMs)} (${((run.results.length * 1000) / Math.max(1, run.wallMs)).toFixed(1)} tasks/s); ran on: ${spread}`,
  )
  for (const r of run.results.filter((x) => x.task.status === 'COMPLETED' && !x.check.ok))
    println(io, c.red(`#${r.index + 1}: ${r.check.detail}`))
}

const tasks: Handler = async (parsed, io) => {
  const dir = demoDir(parsed, io)
  const state = await requireDemo(dir)
  const type = str(parsed.options, 'type') ?? 'chunk'
  if (!(DEMO_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(
      `the demo makes inputs for ${DEMO_TYPES.join(', ')}, not "${type}"`,
      `for other types use \`${BIN_NAME} task submit --data-dir ${dir}/node-1\``,
    )
  }
  const count = num(parsed.options, 'count') ?? DEFAULT_NETWORK_TASKS
  const spin = spinner(io.stderr, `running ${count} ${type} tasks…`)
  let done = 0
  let run: DemoRun
  try {
    run = await runDemoTasks(dir, state, { type: type as DemoType, count }, io.signal, () =>
      spin.update(`running ${count} ${type} tasks… ${++done}/${count}`),
    )
  } finally {
    spin.stop()
  }
  if (bool(parsed.options, 'json')) printJson(io, run)
  else printRun(io, run)
  return run.results.every((r) => r.task.status === 'COMPLETED' && r.check.ok) ? EXIT.OK : EXIT.TASK_FAILED
}

export async function collectStats(state: DemoState) {
  const probes = await Promise.all(state.nodes.map(async (node) => ({ node, probe: await probe(node) })))
  const nodes = probes.map(({ node, probe: p }) => ({
    name: node.name,
    peerId: node.peerId,
    pid: node.pid,
    online: p !== undefined,
    peers: p?.peers.filter((x) => x.status === 'connected').length ?? 0,
    failedPeers: p?.peers.filter((x) => x.status === 'failed').length ?? 0,
    completed: p?.status.tasks.completed ?? 0,
    failed: (p?.status.tasks.failed ?? 0) + (p?.status.tasks.timedOut ?? 0),
    running: p?.status.tasks.running ?? 0,
    uptimeMs: p?.status.uptimeMs ?? 0,
  }))
  const online = nodes.filter((n) => n.online)
  return {
    nodes,
    online: online.length,
    connections: online.reduce((s, n) => s + n.peers, 0) / 2,
    completed: nodes.reduce((s, n) => s + n.completed, 0),
    failed: nodes.reduce((s, n) => s + n.failed, 0),
  }
}

export function printStats(io: Io, stats: Awaited<ReturnType<typeof collectStats>>): void {
  const c = io.out
  const rows = stats.nodes.map((n) => [
    n.name,
    shortId(n.peerId),
    n.online ? c.green('online') : c.red('down'),
    n.online ? `${n.peers}${n.failedPeers > 0 ? c.yellow(` (+${n.failedPeers} failed)`) : ''}` : '-',
    String(n.completed),
    String(n.failed),
    String(n.running),
    n.online ? duration(n.uptimeMs) : '-',
  ])
  println(io, table(['NODE', 'PEER', 'STATE', 'PEERS', 'DONE', 'FAILED', 'RUNNING', 'UPTIME'], rows, c))
  println(
    io,
    `${stats.online}/${stats.nodes.length} nodes online, ${stats.connections} peer connections, ${stats.completed} tasks completed, ${stats.failed} failed`,
  )
}

const stats: Handler = async (parsed, io) => {
  const state = await requireDemo(demoDir(parsed, io))
  const s = await collectStats(state)
  if (bool(parsed.options, 'json')) printJson(io, s)
  else printStats(io, s)
  return EXIT.OK
}

const stop: Handler = async (parsed, io) => {
  const dir = demoDir(parsed, io)
  const state = await requireDemo(dir)
  const spin = spinner(io.stderr, `stopping ${state.nodes.length} nodes…`)
  const stopped = await stopNetwork(state).finally(() => spin.stop())
  await removeDemo(dir)
  if (bool(parsed.options, 'json'))
    printJson(
      io,
      stopped.map((s) => ({ name: s.node.name, stopped: s.stopped })),
    )
  else
    println(
      io,
      `${io.out.green('✔')} stopped the demo: ${stopped.map((s) => `${s.node.name} ${s.stopped}`).join(', ')}`,
    )
  return EXIT.OK
}

const interactive: Handler = async (parsed, io) => (await import('./interactive.js')).interactive(parsed, io)

const run: Handler = async (parsed, io) => (await import('./run/command.js')).runCommand(parsed, io)

export const handlers: Record<string, Handler> = { start, tasks, stats, stop, interactive, run }
