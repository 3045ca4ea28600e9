import type { Handler } from '../args/spec.js'

const notYet: Handler = async () => {
  throw new Error('demo commands: not implemented yet')
}

export const handlers: Record<string, Handler> = {
  start: notYet,
  tasks: notYet,
  stats: notYet,
  stop: notYet,
  interactive: notYet,
}
