/**
 * The tasks the demo sends, in every mode (`demo run`, `demo tasks`, `demo interactive`): real
 * inputs for each type, made here (texts, and images of text lines rendered with a font shipped
 * in an npm package, so nothing depends on the machine's fonts).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { DEMO_MODEL, type DemoType, MOCK_LATENCY_MS } from './constants.js'

/** One task of the run, with what a person reading the narration needs to recognise it. */
export interface PlannedTask {
  /** 1-based, as the narration numbers it. */
  readonly number: number
  readonly type: DemoType
  readonly input: Record<string, unknown>
  /** A few words saying what the task is about. */
  readonly label: string
  /** For `ocr`: the text drawn into the image (what a correct reading says). */
  readonly drawn?: string
}

// The first is the MVP demo script's own task.
const MOCK_TEXTS = [
  'Hello, P2P AI!',
  'Summarise the meeting notes',
  'Classify this support ticket',
  'Translate a greeting into French',
  'Rank these search results',
]

const PARAGRAPHS = [
  'Peer-to-peer networks share work without a central server. Each node is both a client and a server. Nodes find each other on the local network with multicast DNS.',
  'Long documents are split into chunks before they are embedded. Chunks end on sentence or paragraph boundaries. A little overlap keeps the context across a cut.',
  'Every node proves who it is with an Ed25519 key. Task requests and results are signed. A result that does not match its request is refused.',
  'When a node disappears, its peers notice the closed connection. Tasks it was running are sent elsewhere. The requester sees a result either way.',
]

const SENTENCES = [
  'An embedding turns a sentence into a vector of numbers.',
  'Similar sentences get vectors that point the same way.',
  'Search engines compare vectors with a dot product.',
  'Agents on a network can share the work of embedding documents.',
  'A small model runs comfortably on a laptop.',
]

/** Lines PaddleOCR v4 reads exactly when drawn in DejaVu Sans ("AI" is not one: its I reads as l). */
const OCR_LINES = [
  'Hello, P2P world!',
  'Agents share the work',
  'Results come back signed',
  'Found by mDNS on loopback',
  'Nothing leaves this machine',
  'Every peer has an Ed25519 key',
]

/** Words of the texts, for the vocabulary of the demo's embedding model (whole-word tokens). */
export function vocabularyWords(): string[] {
  const words = new Set<string>()
  for (const text of [...SENTENCES, ...PARAGRAPHS]) {
    for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) words.add(w)
  }
  return [...words].sort()
}

const FONT_FILE = join(
  dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')),
  'ttf',
  'DejaVuSans.ttf',
)

const escapeMarkup = (s: string): string =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** Black text on white with a margin, as a PNG: an image of one line, as `ocr` reads them. */
export async function renderLine(text: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp')
  const glyphs = await sharp({
    text: {
      text: `<span foreground="black">${escapeMarkup(text)}</span>`,
      font: 'DejaVu Sans 32',
      fontfile: FONT_FILE,
      dpi: 72,
      rgba: true,
    },
  })
    .png()
    .toBuffer()
  const framed = await sharp(glyphs)
    .extend({ top: 8, bottom: 8, left: 8, right: 8, background: { r: 255, g: 255, b: 255, alpha: 1 } })
    .png()
    .toBuffer()
  return sharp(framed).flatten({ background: '#ffffff' }).png().toBuffer()
}

const short = (s: string, max = 32): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

/** The type of the i-th task of a mix. */
export function typeAt(types: readonly DemoType[], index: number): DemoType {
  return types[index % types.length]!
}

/**
 * The `k`-th task of a type (its texts cycle), numbered `number`; `text` replaces the demo's own
 * (for `ocr`, the text drawn).
 */
export async function planTask(
  type: DemoType,
  k: number,
  number: number,
  text?: string,
  image: (line: string) => Promise<Buffer> = renderLine,
): Promise<PlannedTask> {
  switch (type) {
    case 'mock': {
      const t = text ?? MOCK_TEXTS[k % MOCK_TEXTS.length]!
      return { number, type, input: { text: t, latencyMs: MOCK_LATENCY_MS }, label: JSON.stringify(short(t)) }
    }
    case 'chunk': {
      const t = text ?? PARAGRAPHS[k % PARAGRAPHS.length]!
      return { number, type, input: { text: t, size: 80 }, label: `a text of ${t.length} characters` }
    }
    case 'embed': {
      const t = text ?? SENTENCES[k % SENTENCES.length]!
      return { number, type, input: { text: t, model: DEMO_MODEL }, label: JSON.stringify(short(t)) }
    }
    case 'tokenize': {
      const t = text ?? SENTENCES[k % SENTENCES.length]!
      return { number, type, input: { text: t, tokenizer: DEMO_MODEL }, label: JSON.stringify(short(t)) }
    }
    case 'ocr': {
      const drawn = text ?? OCR_LINES[k % OCR_LINES.length]!
      const png = await image(drawn)
      return {
        number,
        type,
        input: { image: png.toString('base64') },
        label: `image: "${short(drawn, 24)}"`,
        drawn,
      }
    }
  }
}

/** The tasks of a run: `count` of them, cycling through `types`. */
export async function planTasks(types: readonly DemoType[], count: number): Promise<PlannedTask[]> {
  // Each line is drawn once, however many tasks read it.
  const images = new Map<string, Promise<Buffer>>()
  const image = (line: string): Promise<Buffer> => {
    let png = images.get(line)
    if (png === undefined) {
      png = renderLine(line)
      images.set(line, png)
    }
    return png
  }
  const perType = new Map<DemoType, number>()
  return Promise.all(
    Array.from({ length: count }, (_, index) => {
      const type = typeAt(types, index)
      const k = perType.get(type) ?? 0
      perType.set(type, k + 1)
      return planTask(type, k, index + 1, undefined, image)
    }),
  )
}

/** The task the failover waits for: the first mock task of the second half (else the last mock). */
export function failoverTask(plan: readonly PlannedTask[]): PlannedTask | undefined {
  const mocks = plan.filter((t) => t.type === 'mock')
  const half = Math.floor(plan.length / 2)
  return mocks.find((t) => t.number > half) ?? mocks.at(-1)
}
