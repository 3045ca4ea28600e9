import { UsageError } from '../errors.js'

/** The synthetic embedding model every demo node serves (random weights: real maths, meaningless vectors). */
export const DEMO_MODEL = 'demo-embed'

const TEXTS = [
  'Peer-to-peer networks share work without a central server. Each node is both a client and a server. Nodes find each other on the local network with multicast DNS.',
  'An embedding turns a sentence into a vector of numbers. Similar sentences get vectors that point the same way. Search engines compare them with a dot product.',
  'Long documents are split into chunks before they are embedded. Chunks end on sentence or paragraph boundaries. A little overlap keeps the context across a cut.',
  'Every node proves who it is with an Ed25519 key. Task requests and results are signed. A result that does not match its request is refused.',
  'When a node disappears, its peers notice the missed heartbeats. Tasks it was running are retried elsewhere. The requester sees a result either way.',
]

/** Task types `demo tasks` can make inputs for. */
export const DEMO_TYPES = ['chunk', 'mock', 'embed', 'tokenize'] as const

/** The input of the i-th demo task of a type. */
export function demoInput(type: string, i: number): Record<string, unknown> {
  const text = TEXTS[i % TEXTS.length]!
  switch (type) {
    case 'chunk':
      return { text, size: 60 }
    case 'mock':
      return { text: `demo task ${i + 1}: ${text.split('.')[0]}`, latencyMs: 200 }
    case 'embed':
      return { text, model: DEMO_MODEL }
    case 'tokenize':
      return { text, tokenizer: DEMO_MODEL }
    default:
      throw new UsageError(
        `the demo makes inputs for ${DEMO_TYPES.join(', ')}, not "${type}"`,
        'for other types use `task submit` against a demo node (--data-dir <demo-dir>/node-1)',
      )
  }
}
