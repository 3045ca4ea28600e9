import { createInterface } from 'node:readline'
import { num } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { sleep } from '../commands/common.js'
import { BIN_NAME, EXIT } from '../constants.js'
import { eprintln, type Io, println } from '../io.js'
import { isNodeProcess } from '../runtime.js'
import { duration, fields, shortId, statusColour, table } from '../term/format.js'
import { collectStats, printRun, printStats, startDemo } from './commands.js'
import { DEFAULT_NETWORK_NODES, DEMO_TYPES, type DemoType } from './constants.js'
import { probe, stopNetwork } from './nodes.js'
import { type DemoNode, type DemoState, demoDir, removeDemo } from './state.js'
import { liveNodes, nameOf, runDemoTasks } from './tasks.js'
import { planTask } from './workload.js'

const HELP = `commands:
  submit [type] [text]   run one task (type: ${DEMO_TYPES.join(', ')}; default chunk)
  tasks [n] [type]       run n tasks across the network, in the background (default 5 chunk)
  wait                   wait until the background tasks are done
  peers [node]           the peer table of a node (default: the first one up)
  stats                  nodes online, connections, tasks
  nodes                  the nodes, their PeerIds and addresses
  kill <node>            end a node abruptly (no goodbye) and watch the others notice
  help                   this list
  quit                   stop the nodes, print a summary and leave (also Ctrl-D, Ctrl-C)`

interface Tally {
  submitted: number
  completed: number
  failed: number
  failedOver: number
  readonly kills: Array<{ name: string; at: number; noticedMs?: number; noticedBy?: string }>
  /** `tasks` runs still going. */
  readonly pending: Set<Promise<void>>
}

/** `demo interactive`: a network of local nodes driven from a prompt. */
export async function interactive(parsed: Parsed, io: Io): Promise<number> {
  const dir = demoDir(parsed, io)
  const count = num(parsed.options, 'nodes') ?? DEFAULT_NETWORK_NODES
  const c = io.out
  println(io, c.bold(`p2p-ai demo: ${count} nodes on this machine (127.0.0.1, mDNS on loopback)`))
  const { state, peers } = await startDemo(io, dir, count)
  const startedAt = Date.now()
  const tally: Tally = { submitted: 0, completed: 0, failed: 0, failedOver: 0, kills: [], pending: new Set() }
  println(
    io,
    table(
      ['NODE', 'PEER ID', 'PEERS'],
      state.nodes.map((n, i) => [n.name, n.peerId, `${peers[i]}/${count - 1}`]),
      c,
    ),
  )
  println(io, `\n${HELP}\n`)
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: c.cyan('p2p-ai> '),
    terminal: process.stdin.isTTY === true,
  })
  const say = (text: string): void => {
    println(io, text)
    rl.prompt(true)
  }
  rl.on('SIGINT', () => rl.close())
  io.signal.addEventListener('abort', () => rl.close(), { once: true })
  // Ends what runs in the background (result waits, loss watches) when the prompt is left.
  const session = new AbortController()
  const sessionIo: Io = { ...io, signal: AbortSignal.any([io.signal, session.signal]) }
  rl.prompt()
  try {
    for await (const line of rl) {
      const [cmd = '', ...args] = line.trim().split(/\s+/)
      try {
        if (cmd === 'quit' || cmd === 'exit') break
        await command(cmd, args, dir, state, sessionIo, tally, say)
      } catch (err) {
        eprintln(io, `${io.err.red('error:')} ${(err as Error).message}`)
      }
      rl.prompt()
    }
  } finally {
    if (tally.pending.size > 0) {
      println(io, c.dim(`waiting for ${tally.pending.size} background run(s) to finish…`))
      await Promise.race([Promise.allSettled([...tally.pending]), sleep(30_000, io.signal).catch(() => {})])
    }
    session.abort()
    rl.close()
    println(io, c.dim('\nstopping the nodes…'))
    await stopNetwork(state)
    await removeDemo(dir)
    println(io, summary(state, tally, Date.now() - startedAt, io))
  }
  return EXIT.OK
}

async function command(
  cmd: string,
  args: string[],
  dir: string,
  state: DemoState,
  io: Io,
  tally: Tally,
  say: (t: string) => void,
): Promise<void> {
  const c = io.out
  switch (cmd) {
    case '':
      return
    case 'help':
      println(io, HELP)
      return
    case 'nodes':
      println(
        io,
        table(
          ['NODE', 'PEER ID', 'PID', 'STATE'],
          state.nodes.map((n) => [
            n.name,
            n.peerId,
            String(n.pid),
            isNodeProcess(n.pid) ? c.green('up') : c.red('down'),
          ]),
          c,
        ),
      )
      return
    case 'stats':
      printStats(io, await collectStats(state))
      return
    case 'peers': {
      const node = args[0] === undefined ? (await liveNodes(state))[0]?.node : find(state, args[0])
      if (node === undefined) throw new Error('no node is up')
      const p = await probe(node)
      if (p === undefined) throw new Error(`${node.name} does not answer (killed?)`)
      println(io, `${node.name} sees:`)
      println(
        io,
        table(
          ['PEER', 'NODE', 'STATUS', 'RTT'],
          p.peers.map((x) => [
            shortId(x.peerId),
            nameOf(state, x.peerId, '?'),
            statusColour(x.status, c),
            x.rttMs === undefined ? '-' : `${Math.round(x.rttMs)} ms`,
          ]),
          c,
        ),
      )
      return
    }
    case 'submit': {
      const type = args[0] ?? 'chunk'
      if (!isDemoType(type)) throw new Error(`submit makes inputs for ${DEMO_TYPES.join(', ')}`)
      const text = args.slice(1).join(' ')
      const { input } = await planTask(
        type,
        tally.submitted,
        tally.submitted + 1,
        text === '' ? undefined : text,
      )
      const live = await liveNodes(state)
      const first = live[0]
      if (first === undefined) throw new Error('no node is up')
      const task = await first.client.submit({ type, input })
      tally.submitted++
      println(io, c.dim(`submitted ${type} task ${task.id.slice(0, 8)} to ${first.node.name}`))
      // Reported when it finishes; the prompt stays usable meanwhile.
      void first.client.wait(task.id, { signal: io.signal }).then(
        (done) => {
          record(tally, done.status === 'COMPLETED', done.attempts)
          const where = nameOf(state, done.meta?.peer, first.node.name)
          say(
            `${statusColour(done.status, c)} task ${done.id.slice(0, 8)} (${type}) on ${where}${(done.attempts ?? 1) > 1 ? c.yellow(` after ${done.attempts} attempts`) : ''}${done.error === undefined ? '' : `: ${done.error.message}`}`,
          )
        },
        (err: unknown) => {
          if (!io.signal.aborted) say(`${c.red('error:')} ${(err as Error).message}`)
        },
      )
      return
    }
    case 'tasks': {
      const n = args[0] === undefined ? 5 : Number.parseInt(args[0], 10)
      if (!Number.isSafeInteger(n) || n < 1 || n > 1000) throw new Error('tasks takes a count from 1 to 1000')
      const type = args[1] ?? 'chunk'
      if (!isDemoType(type)) throw new Error(`tasks makes inputs for ${DEMO_TYPES.join(', ')}`)
      tally.submitted += n
      println(
        io,
        c.dim(
          `running ${n} ${type} tasks in the background (\`kill <node>\` meanwhile shows failover; \`wait\` waits)`,
        ),
      )
      // In the background, so a node can be killed while they run.
      const running: Promise<void> = runDemoTasks(dir, state, { type, count: n }, io.signal).then(
        (run) => {
          for (const r of run.results) record(tally, r.task.status === 'COMPLETED', r.task.attempts)
          printRun(io, run)
          say('')
        },
        (err: unknown) => {
          if (!io.signal.aborted) say(`${c.red('error:')} ${(err as Error).message}`)
        },
      )
      tally.pending.add(running)
      void running.finally(() => tally.pending.delete(running))
      return
    }
    case 'wait':
      await Promise.allSettled([...tally.pending])
      return
    case 'kill': {
      const node = args[0] === undefined ? undefined : find(state, args[0])
      if (node === undefined) throw new Error(`kill which node? ${state.nodes.map((n) => n.name).join(', ')}`)
      if (!isNodeProcess(node.pid)) throw new Error(`${node.name} is already down`)
      process.kill(node.pid, 'SIGKILL')
      const kill: Tally['kills'][number] = { name: node.name, at: Date.now() }
      for (let i = 0; i < 40 && isNodeProcess(node.pid); i++) await sleep(50)
      tally.kills.push(kill)
      println(
        io,
        `${c.red('✖')} killed ${node.name} (pid ${node.pid}) without a goodbye; watching the others notice (heartbeats every 2 s)…`,
      )
      void watchLoss(state, node, kill, io.signal).then((by) => {
        if (by !== undefined && !io.signal.aborted)
          say(
            `${c.yellow('!')} ${by} noticed ${node.name} is gone after ${duration(kill.noticedMs ?? 0)}; new tasks go to the nodes still up`,
          )
      })
      return
    }
    default:
      println(io, `unknown command "${cmd}"; type \`help\``)
  }
}

function isDemoType(type: string): type is DemoType {
  return (DEMO_TYPES as readonly string[]).includes(type)
}

function record(tally: Tally, ok: boolean, attempts: number | undefined): void {
  if (ok) tally.completed++
  else tally.failed++
  if ((attempts ?? 1) > 1) tally.failedOver++
}

function find(state: DemoState, name: string): DemoNode | undefined {
  const wanted = /^\d+$/.test(name) ? `node-${name}` : name
  return state.nodes.find((n) => n.name === wanted || n.peerId === name)
}

/** Polls the surviving nodes until one marks the killed node failed or forgets it; resolves with its name. */
async function watchLoss(
  state: DemoState,
  lost: DemoNode,
  kill: Tally['kills'][number],
  signal: AbortSignal,
): Promise<string | undefined> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && !signal.aborted) {
    for (const node of state.nodes) {
      if (node === lost || !isNodeProcess(node.pid)) continue
      const p = await probe(node)
      const entry = p?.peers.find((x) => x.peerId === lost.peerId)
      if (p !== undefined && (entry === undefined || entry.status === 'failed')) {
        kill.noticedMs = Date.now() - kill.at
        kill.noticedBy = node.name
        return node.name
      }
    }
    await sleep(250, signal).catch(() => {})
  }
  return undefined
}

function summary(state: DemoState, tally: Tally, ms: number, io: Io): string {
  const c = io.out
  const kills = tally.kills.map(
    (k) =>
      `${k.name}${k.noticedMs === undefined ? '' : ` (noticed by ${k.noticedBy} after ${duration(k.noticedMs)})`}`,
  )
  return `${c.bold('demo summary')}\n${fields(
    [
      ['duration', duration(ms)],
      ['nodes', `${state.nodes.length} started${kills.length === 0 ? '' : `, killed: ${kills.join(', ')}`}`],
      [
        'tasks',
        `${tally.submitted} submitted, ${tally.completed} completed, ${tally.failed} failed${tally.failedOver > 0 ? `, ${tally.failedOver} failed over to another node` : ''}`,
      ],
      ['next', `\`${BIN_NAME} node start\` runs a node of your own; \`${BIN_NAME} --help\` lists everything`],
    ],
    c,
  )}`
}
