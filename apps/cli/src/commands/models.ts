import type { Handler } from '../args/spec.js'

const notYet: Handler = async () => {
  throw new Error('models commands: not implemented yet')
}

export const handlers: Record<string, Handler> = { list: notYet, add: notYet, pull: notYet }
