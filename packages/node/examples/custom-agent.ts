/**
 * A custom agent: a task type of your own, served by one node and used by another.
 *
 *   npx tsx examples/custom-agent.ts
 *
 * Both nodes run in this process for the sake of a short example; in real life each runs on its
 * own machine (or process) and they find each other by mDNS or a bootstrap address.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type NodeInit } from '@p2p-ai/node'
import { z } from 'zod'

/** Keeps the example on this machine: loopback only, no mDNS. */
function local(dataDir: string): NodeInit {
  return { dataDir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } } }
}

export async function main(): Promise<{ summary: string; sentences: number; ranOn: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-example-'))
  const provider = await createNode(local(join(dir, 'provider')))
  const requester = await createNode(local(join(dir, 'requester')))
  try {
    // 1. The provider teaches its node a new task type: a name, an input schema, a function.
    provider.registerTask({
      name: 'summarize',
      description: 'the first sentences of a text',
      input: z.strictObject({
        text: z.string().min(1).max(100_000),
        sentences: z.number().int().min(1).max(20),
      }),
      async run({ text, sentences }, { signal, progress }) {
        const all = text.match(/[^.!?]+[.!?]+/g) ?? [text]
        progress(0.5, `${all.length} sentences found`)
        signal.throwIfAborted() // cancelled by the requester, timed out, or the node is stopping
        const picked = all.slice(0, sentences).map((s) => s.trim())
        return { summary: picked.join(' '), sentences: picked.length, ranOn: provider.peerId }
      },
    })

    // 2. The requester connects (mDNS or a bootstrap list would do this on a LAN) ...
    await requester.connect(provider.getMultiaddrs()[0]!)

    // 3. ... and asks the network. `target: 'auto'` (the default) picks a capable peer, waits a
    //    few seconds for one to announce the task type, and fails over if it dies.
    const handle = requester.submit<{ summary: string; sentences: number; ranOn: string }>({
      type: 'summarize',
      input: {
        text: 'Peers find each other. Each one signs what it asks. Results are checked. Nothing is lost.',
        sentences: 2,
      },
    })
    handle.addEventListener('progress', (evt) =>
      console.log('progress', evt.detail.fraction, evt.detail.message),
    )
    const output = await handle.output() // the verified output, or a coded error
    console.log(output.summary, '— computed by', output.ranOn)
    console.log(requester.tasks.get(handle.id)?.status, 'on', requester.tasks.get(handle.id)?.peer)
    return output
  } finally {
    await requester.stop()
    await provider.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

// Run directly (not imported by the test).
if (import.meta.url === `file://${process.argv[1]}`) await main()
