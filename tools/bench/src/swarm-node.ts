/**
 * A full p2p-ai node in a test host of the simulated internet, for the `nat` suite: started with
 * its `NodeInit` (JSON, argv[2]) and the task types it runs (JSON array, argv[3]; each answers
 * `{ ranOn: <its PeerId> }`), driven by one JSON command per line on stdin, answering one JSON
 * object per line on stdout, each with the command's `id`:
 *
 * - `{ event: 'ready', peerId }` once started (no id);
 * - `{ cmd: 'submit', type, input?, options? }` → `{ record }` (the task's final record), timed
 *   in this process: `ms` from submit to result;
 * - `{ cmd: 'link', peerId }` → `{ connection }`: how this node reaches the peer now (direct or
 *   relayed), from its peer directory, or null;
 * - `{ cmd: 'network' }` → `{ network }` (`node.network()`);
 * - `{ cmd: 'usage' }` → `{ cpuUs, rss }` of this process since it started.
 *
 * It stops when stdin closes.
 */
import { createInterface } from 'node:readline'
import { createNode } from '@p2p-ai/node'
import { z } from 'zod'

const init = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof createNode>[0]
const types = JSON.parse(process.argv[3] ?? '[]') as string[]
const write = (value: object): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

const node = await createNode({ ...init, start: false })
for (const name of types) {
  node.registerTask({
    name,
    input: z.strictObject({ tag: z.string().max(64).optional() }),
    run: ({ tag }) => ({ ranOn: node.peerId, tag: tag ?? null }),
  })
}
await node.start()
write({ event: 'ready', peerId: node.peerId })

type Command = { id: number; cmd: string; [key: string]: unknown }

async function answer(command: Command): Promise<object> {
  switch (command.cmd) {
    case 'submit': {
      const started = performance.now()
      const record = await node
        .submit(
          { type: String(command.type), input: (command.input as Record<string, unknown>) ?? {} },
          (command.options as object) ?? {},
        )
        .result()
      return { record, ms: performance.now() - started }
    }
    case 'link':
      return { connection: node.peer(String(command.peerId))?.connection ?? null }
    case 'network':
      return { network: node.network() }
    case 'usage': {
      const cpu = process.cpuUsage()
      return { cpuUs: cpu.user + cpu.system, rss: process.memoryUsage().rss }
    }
    default:
      return { error: `unknown command ${command.cmd}` }
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const command = JSON.parse(line) as Command
  answer(command).then(
    (reply) => write({ id: command.id, ...reply }),
    (err: unknown) => write({ id: command.id, error: String((err as Error).message ?? err) }),
  )
})
lines.on('close', () => {
  void node.stop({ deadlineMs: 2_000 }).finally(() => process.exit(0))
})
