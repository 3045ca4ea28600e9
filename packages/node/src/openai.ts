/**
 * `@p2p-ai/node/openai`: an OpenAI-compatible HTTP API for a node, so any OpenAI client (the
 * official SDKs, LangChain, a chat UI) runs on the swarm: `GET /models`, `POST /chat/completions`
 * (streaming and not) and `POST /embeddings`, in OpenAI's wire format, error objects included.
 * Each request becomes a task routed through the swarm, with failover. It loads no libp2p: it
 * takes the node structurally, and mounts on any `node:http` server.
 *
 * ```ts
 * import { createServer } from 'node:http'
 * import { openaiApi } from '@p2p-ai/node/openai'
 *
 * const api = openaiApi({ node, apiKey: 'a-long-random-key' })
 * createServer(async (req, res) => {
 *   if (!(await api.handle(req, res))) res.writeHead(404).end()
 * }).listen(8080, '127.0.0.1')
 * // new OpenAI({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'a-long-random-key' })
 * ```
 *
 * The `p2p-ai-agents` CLI serves it on the node's control server at `/openai/v1`, with the control
 * token as the API key: see docs/openai.md.
 *
 * @packageDocumentation
 */

export { type OpenAIApi, type OpenAIApiInit, openaiApi } from './openai/api.js'
export { type ChatRequest, type GenerationOutput, parseChatRequest } from './openai/chat.js'
export * from './openai/constants.js'
export { type EmbeddingOutput, type EmbeddingsRequest, parseEmbeddingsRequest } from './openai/embeddings.js'
export { fromFailure, OpenAIError, type OpenAIErrorType } from './openai/errors.js'
export { type OpenAINode, type SwarmModel, swarmModels } from './openai/models.js'
