#!/usr/bin/env node
/**
 * One demo agent: a full `@p2p-ai/node` in its own process, listening on 127.0.0.1 only, finding
 * its peers by mDNS on the loopback interface, serving the engine's built-in backends (mock,
 * chunk, and the ONNX backend: embed on the demo's locally built model, ocr on PaddleOCR v4).
 *
 *   node agent.js '<AgentConfig as JSON>'
 *
 * Talks to the demo in JSON lines (see agent-protocol.ts). The demo is in charge of its life:
 * Ctrl-C in the terminal reaches every process of the group, so SIGINT is left to the demo, which
 * stops the agents in order; a closed stdin (the demo went away) stops the agent too.
 */
import { mkdir } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { mockBackend } from '@p2p-ai/engine'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { onnxBackend } from '@p2p-ai/onnx'
import type { AgentConfig, AgentEvent } from './agent-protocol.js'
import { AGENT_CANCEL_GRACE_MS } from './constants.js'

type EventBody<E> = E extends { at: number } ? Omit<E, 'at'> : never

// The demo went away mid-write (EPIPE): its closed stdin stops this agent; nothing to report to.
process.stdout.on('error', () => {})

function emit(event: EventBody<AgentEvent>): void {
  process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`)
}

function parseConfig(arg: string | undefined): AgentConfig {
  if (arg === undefined) throw new Error('usage: agent.js <config as JSON>')
  return JSON.parse(arg) as AgentConfig
}

/** The requester's task id from the engine's id of a task a peer sent (`<requester>:<id>`). */
function split(engineId: string): { requester: string; taskId: string } {
  const colon = engineId.indexOf(':')
  return colon === -1
    ? { requester: '', taskId: engineId }
    : { requester: engineId.slice(0, colon), taskId: engineId.slice(colon + 1) }
}

async function start(config: AgentConfig): Promise<P2PNode> {
  const node = await createNode({
    dataDir: config.dataDir,
    network: {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: { enabled: true, interface: 'loopback', serviceTag: config.serviceTag },
    },
    engine: { concurrency: config.concurrency },
    // A cancelled task's worker is terminated if it has not stopped after the grace time, and
    // terminating a worker while ONNX Runtime creates a session aborts the whole process
    // ("terminate called after throwing an instance of 'Napi::Error'", SIGABRT). Under heavy load
    // a requester cancels tasks it wrongly takes for stalled; a long grace lets ONNX Runtime
    // finish instead, so the agent survives (the task is cancelled all the same).
    engineOptions: { cancelGraceMs: AGENT_CANCEL_GRACE_MS },
    backends: [
      // A timer and a checksum: nothing to take off the main thread.
      mockBackend({ worker: false }),
      onnxBackend({
        models: [config.embedModel],
        defaultEmbedModel: config.embedModel.name,
      }),
    ],
    start: false,
  })
  node.addEventListener('peer:connect', (evt) => emit({ event: 'peer:connect', peerId: evt.detail.peerId }))
  node.addEventListener('peer:failed', (evt) =>
    emit({ event: 'peer:failed', peerId: evt.detail.peer.peerId, reason: evt.detail.reason }),
  )
  node.addEventListener('peer:remove', (evt) =>
    emit({ event: 'peer:remove', peerId: evt.detail.peerId, reason: evt.detail.reason }),
  )
  node.engine.addEventListener('task:started', (evt) => {
    emit({ event: 'task:started', ...split(evt.detail.id) })
  })
  node.engine.addEventListener('task:finished', (evt) => {
    emit({ event: 'task:finished', taskId: split(evt.detail.id).taskId, status: evt.detail.status })
  })
  // Load the backends before going on the network, as a serving agent would: the first task then
  // does not wait for worker threads to start, and loading the ONNX backend hashes every model (the
  // capability announcement peers route by lists only models with a known hash).
  await Promise.all([node.engine.backends.load('onnx'), node.engine.backends.load('text')])
  await node.start()
  return node
}

async function main(): Promise<void> {
  // Ctrl-C goes to the whole process group; the demo decides when and how agents stop.
  process.on('SIGINT', () => {})
  const config = parseConfig(process.argv[2])
  await mkdir(config.tmpDir, { recursive: true, mode: 0o700 })
  const node = await start(config)
  const caps = node.engine.capabilities()
  emit({
    event: 'ready',
    pid: process.pid,
    peerId: node.peerId,
    addresses: node.getMultiaddrs(),
    taskTypes: caps.taskTypes.map((t) => t.name),
    models: caps.models.map((m) => ({ name: m.name, sha256: m.sha256, taskTypes: m.taskTypes })),
  })

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= node.stop().then(
      (report) => {
        emit({ event: 'stopped', durationMs: report.durationMs, goodbyes: report.peersNotified.length })
        process.exit(0)
      },
      (err: unknown) => {
        emit({ event: 'error', message: `stop failed: ${(err as Error).message}` })
        process.exit(1)
      },
    )
    return stopping
  }
  process.on('SIGTERM', () => void stop())
  const commands = createInterface({ input: process.stdin })
  commands.on('line', (line) => {
    if (line.trim() === 'stop') void stop()
    else if (line.trim() !== '') emit({ event: 'error', message: `unknown command ${JSON.stringify(line)}` })
  })
  commands.on('close', () => void stop())
}

main().catch((err: unknown) => {
  const e = err as Error & { code?: string }
  emit({ event: 'error', message: e.message, ...(e.code === undefined ? {} : { code: e.code }) })
  process.exit(1)
})
