/**
 * Every error code a user of the CLI can meet, in one table: the exit code a command ends with,
 * the HTTP status the control API answers it with (for the codes the API sends), and the hint
 * printed under the message. The codes come from the CLI itself, its control API, and the
 * packages below it (identity, protocol, transport, engine, node, metrics, dashboard, the onnx and
 * llama plug-ins); a test walks every error class those packages export and checks that each code is
 * here. Only an error with no code at all is called a bug.
 *
 * A task that ended FAILED, TIMEOUT or CANCELLED exits 4 whatever its code; the code's hint still
 * says what to do about it.
 */
import { BIN_NAME, EXIT } from './constants.js'

/** What the hint may mention: the data directory, the task, the error itself. */
export interface HintContext {
  readonly err?: unknown
  readonly dataDir?: string
  readonly taskId?: string
  readonly taskType?: string
}

export interface ErrorPolicy {
  /** Exit code of a command that fails with this code. */
  readonly exit: number
  /** HTTP status of a control API answer with this code. */
  readonly status?: number
  /** The next thing to try. */
  readonly hint: string | ((ctx: HintContext) => string)
}

const $ = (command: string): string => `\`${BIN_NAME} ${command}\``

const USAGE = EXIT.USAGE
const FAILURE = EXIT.FAILURE

/** `path` of an error that names a file (key files, stores). */
function pathOf(ctx: HintContext, fallback: string): string {
  const path = (ctx.err as { path?: unknown } | undefined)?.path
  return typeof path === 'string' ? path : fallback
}

const taskStatus = (ctx: HintContext): string =>
  ctx.taskId === undefined ? `${$('task status <id>')}` : `${$(`task status ${ctx.taskId}`)}`

const retry = 'run it again; the network sends it to another peer when one is free'
const keyFileAside = (ctx: HintContext): string =>
  `restore ${pathOf(ctx, 'identity.json')} from a backup; or move it aside and start again, which creates a new identity (a new PeerId: peers that knew the old one will not recognise this node)`
const peerTrouble =
  'the peer misbehaved or runs an incompatible version; the network stops choosing it, so run the task again'

const TABLE: Readonly<Record<string, ErrorPolicy>> = {
  // The CLI's own errors (their instances may carry a more precise hint).
  ERR_USAGE: { exit: USAGE, hint: `see the command's options with ${$('<group> <command> --help')}` },
  ERR_CONFIG: { exit: USAGE, hint: 'see docs/configuration.md for every setting' },
  ERR_NODE_NOT_RUNNING: { exit: EXIT.NOT_RUNNING, hint: `start one with ${$('node start')}` },
  ERR_DEMO_NOT_RUNNING: { exit: EXIT.NOT_RUNNING, hint: `start one with ${$('demo start --nodes 3')}` },
  ERR_NODE_ALREADY_RUNNING: {
    exit: FAILURE,
    hint: `stop it with ${$('node stop')}, or give this one its own \`--data-dir\``,
  },
  ERR_NODE_START: {
    exit: FAILURE,
    hint: (c) =>
      `see the node's log${c.dataDir === undefined ? '' : ` (${c.dataDir}/node.log with --detach)`}`,
  },
  ERR_NODE_STOP: {
    exit: FAILURE,
    hint: 'it may still be finishing tasks; wait, or end it with `kill <pid>`',
  },
  ERR_TASK_FAILED: { exit: EXIT.TASK_FAILED, hint: (c) => `see why with ${taskStatus(c)}` },
  ERR_TASK_NOT_FINISHED: {
    exit: FAILURE,
    hint: (c) => `wait for it with ${$(`task result ${c.taskId ?? '<id>'} --wait`)}`,
  },
  ERR_CONTROL_CONNECTION: { exit: FAILURE, hint: `check that the node runs with ${$('node status')}` },
  ERR_OFFLINE: { exit: FAILURE, hint: 'connect to the internet, or give a reachable hub with --endpoint' },
  ERR_FILE: { exit: FAILURE, status: 422, hint: 'check the path and its permissions' },
  ERR_DEMO_TIMEOUT: {
    exit: FAILURE,
    hint: 'the machine may be busy: run the demo again, with fewer --nodes or --tasks',
  },

  // The control API's own answers.
  ERR_BAD_REQUEST: {
    exit: USAGE,
    status: 400,
    hint: 'fix the field the message names (docs/control-api.md)',
  },
  ERR_UNAUTHORIZED: {
    exit: FAILURE,
    status: 401,
    hint: 'the token in the data directory does not match the running node; restart the node',
  },
  ERR_FORBIDDEN: {
    exit: FAILURE,
    status: 403,
    hint: 'address the control API as 127.0.0.1:<port> or localhost:<port>',
  },
  ERR_NOT_FOUND: {
    exit: FAILURE,
    status: 404,
    hint: 'see the endpoints in docs/control-api.md; the CLI and the node may be different versions',
  },
  ERR_METHOD_NOT_ALLOWED: { exit: FAILURE, status: 405, hint: 'see the endpoints in docs/control-api.md' },
  ERR_PAYLOAD_TOO_LARGE: {
    exit: USAGE,
    status: 413,
    hint: 'send less at once: split the input into several tasks',
  },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    exit: FAILURE,
    status: 415,
    hint: 'send the body as Content-Type: application/json',
  },
  ERR_INTERNAL: {
    exit: FAILURE,
    status: 500,
    hint: 'the node hit a bug: its log has the details; please report it',
  },
  ERR_ABORTED: {
    exit: FAILURE,
    status: 503,
    hint: 'the operation was stopped before it finished; run it again',
  },
  ERR_NODE_STOPPING: {
    exit: FAILURE,
    status: 503,
    hint: (c) =>
      `the node is shutting down; a running task gets until the shutdown deadline to finish. After the next ${$('node start')}, ${taskStatus(c)} shows how it ended`,
  },
  ERR_INVALID_MULTIADDR: {
    exit: USAGE,
    status: 400,
    hint: 'give a full multiaddr ending in /p2p/<peerId>, such as /ip4/192.168.1.20/tcp/9000/p2p/12D3KooW...',
  },

  // @p2p-ai/identity
  ERR_INVALID_SEED: { exit: FAILURE, hint: 'a seed is 32 random bytes' },
  ERR_INVALID_PUBLIC_KEY: { exit: FAILURE, hint: 'an Ed25519 public key is 32 bytes' },
  ERR_INVALID_DATA: { exit: FAILURE, hint: 'sign bytes (a Uint8Array), not a string' },
  ERR_INVALID_PEER_ID: {
    exit: USAGE,
    status: 400,
    hint: `a PeerId looks like 12D3KooW... (46 to 52 characters); ${$('node peers')} lists those of the known peers`,
  },
  ERR_UNSUPPORTED_RUNTIME: { exit: FAILURE, hint: 'keep keys in files only where node:fs exists (Node.js)' },
  ERR_KEY_FILE_NOT_FOUND: {
    exit: FAILURE,
    hint: (c) => `check the path ${pathOf(c, 'of the key file')} (identity.keyFile in the config)`,
  },
  ERR_KEY_FILE_EXISTS: {
    exit: FAILURE,
    hint: (c) =>
      `a key file is never overwritten: move ${pathOf(c, 'it')} aside first if you really want a new identity`,
  },
  ERR_KEY_FILE_UNREADABLE: {
    exit: FAILURE,
    hint: (c) => `check that ${pathOf(c, 'the key file')} is a file you can read`,
  },
  ERR_KEY_FILE_WRITE: {
    exit: FAILURE,
    hint: (c) =>
      `check that the directory of ${pathOf(c, 'the key file')} exists, is yours and has free space`,
  },
  ERR_KEY_FILE_INSECURE_PERMISSIONS: {
    exit: FAILURE,
    hint: (c) => `make it readable by you only: \`chmod 600 ${pathOf(c, '<key file>')}\``,
  },
  ERR_KEY_FILE_CORRUPT: { exit: FAILURE, hint: keyFileAside },
  ERR_KEY_FILE_BAD_LENGTH: { exit: FAILURE, hint: keyFileAside },
  ERR_KEY_FILE_MISMATCH: { exit: FAILURE, hint: keyFileAside },
  ERR_KEY_FILE_WRONG_TYPE: {
    exit: FAILURE,
    hint: (c) =>
      `${pathOf(c, 'the file')} is not a p2p-ai identity: point identity.keyFile at one, or remove the setting to use the data directory's own`,
  },
  ERR_KEY_FILE_UNSUPPORTED_VERSION: {
    exit: FAILURE,
    hint: 'a newer p2p-ai wrote this key file: upgrade with `npm install --global @p2p-ai/cli`',
  },

  // @p2p-ai/protocol: what a peer sent did not check out (seen in a task's failed attempts).
  ERR_FRAME_TOO_LARGE: {
    exit: FAILURE,
    hint: 'a task and its result must each fit in a 4 MiB frame to cross the network: split the input, or run it here with --target self',
  },
  ERR_FRAME_TRUNCATED: { exit: FAILURE, hint: retry },
  ERR_INVALID_VARINT: { exit: FAILURE, hint: peerTrouble },
  ERR_INVALID_UTF8: { exit: FAILURE, hint: peerTrouble },
  ERR_INVALID_JSON: { exit: FAILURE, hint: peerTrouble },
  ERR_STREAM_FAILED: { exit: FAILURE, hint: retry },
  ERR_INVALID_JSON_VALUE: {
    exit: USAGE,
    hint: 'inputs must be plain JSON: no NaN or Infinity, no lone surrogates, integers within ±2^53',
  },
  ERR_INVALID_MESSAGE: { exit: FAILURE, hint: peerTrouble },
  ERR_UNSUPPORTED_VERSION: {
    exit: FAILURE,
    hint: 'the peer speaks another major version of the protocol: upgrade the older of the two',
  },
  ERR_BAD_SIGNATURE: { exit: FAILURE, hint: peerTrouble },
  ERR_SIGNER_MISMATCH: { exit: FAILURE, hint: peerTrouble },
  ERR_STALE_MESSAGE: {
    exit: FAILURE,
    hint: "the two machines' clocks differ by more than the allowed skew: set both to network time (NTP)",
  },
  ERR_REPLAYED_NONCE: { exit: FAILURE, hint: retry },
  ERR_RESULT_MISMATCH: { exit: FAILURE, hint: peerTrouble },
  ERR_INVALID_OPTION: { exit: USAGE, hint: 'fix the option the message names' },
  ERR_FORWARD_LOOP: { exit: FAILURE, hint: retry },

  // @p2p-ai/transport
  ERR_INVALID_LISTEN_ADDRESS: {
    exit: USAGE,
    hint: 'give a multiaddr such as /ip4/0.0.0.0/tcp/9000 (--listen or network.listen)',
  },
  ERR_INVALID_BOOTSTRAP_ADDRESS: {
    exit: USAGE,
    hint: 'give a multiaddr ending in /p2p/<peerId>, such as /ip4/192.168.1.20/tcp/9000/p2p/12D3KooW...',
  },
  ERR_UNKNOWN_INTERFACE: {
    exit: USAGE,
    hint: 'give lan, loopback, auto, or one of the interfaces the message lists (`ip addr` shows them)',
  },
  ERR_INVALID_PSK: {
    exit: USAGE,
    hint: 'make a pre-shared key with `generatePsk()` of @p2p-ai/transport and give every node the same one',
  },
  ERR_INVALID_IDENTITY: { exit: FAILURE, hint: keyFileAside },
  ERR_INVALID_ANNOUNCE_ADDRESS: {
    exit: USAGE,
    hint: 'give a multiaddr this node is reachable at, such as /ip4/203.0.113.7/tcp/4001 (network.announce)',
  },
  ERR_INVALID_CAPABILITY_KEY: {
    exit: USAGE,
    hint: 'a capability key is a task type, or a model as "<type>/<sha256>": check what is advertised',
  },
  ERR_QUIC_UNAVAILABLE: {
    exit: FAILURE,
    hint: 'QUIC needs the optional @chainsafe/libp2p-quic package: install it (`npm install @chainsafe/libp2p-quic`), or listen on TCP only',
  },
  ERR_CAPABILITY_NOT_STORED: {
    exit: FAILURE,
    hint: 'give network.bootstrap peers that are publicly reachable (they serve the DHT); the node publishes again by itself once it knows one',
  },
  ERR_DHT_DISABLED: {
    exit: USAGE,
    hint: 'turn the DHT on (network.dht: true) to find providers beyond the nodes this one knows',
  },
  ERR_INVALID_TRANSPORT_OPTION: {
    exit: USAGE,
    hint: 'fix the network setting the message names (docs/configuration.md)',
  },
  ERR_MDNS_SOCKET: {
    exit: FAILURE,
    hint: 'another program may hold the mDNS port on that interface: choose another with --mdns-interface, or --no-mdns and --bootstrap',
  },

  // @p2p-ai/engine
  ERR_UNSUPPORTED_TASK_TYPE: {
    exit: USAGE,
    status: 422,
    hint: `see what the node runs with ${$('node status')}`,
  },
  ERR_INVALID_INPUT: {
    exit: USAGE,
    status: 422,
    hint: (c) =>
      `check the input fields of a${c.taskType === undefined ? '' : ` ${c.taskType}`} task (docs/cli.md, "Task inputs")`,
  },
  ERR_INVALID_REQUEST: { exit: USAGE, status: 400, hint: 'fix the field the message names' },
  ERR_QUEUE_FULL: { exit: FAILURE, status: 503, hint: 'the node is busy: try again in a moment' },
  ERR_TASK_TIMEOUT: { exit: FAILURE, hint: 'give it longer with --timeout <seconds>' },
  ERR_TASK_CANCELLED: {
    exit: FAILURE,
    hint: () => `it was cancelled (${$('task cancel')}, or the node stopped); submit it again to run it`,
  },
  ERR_TASK_NOT_FOUND: {
    exit: FAILURE,
    status: 404,
    hint: `list known tasks with ${$('task list')} (results are kept for engine.resultTtlMs, 24 h)`,
  },
  ERR_TRACE_NOT_FOUND: {
    exit: FAILURE,
    status: 404,
    hint: (c) =>
      `the node recorded nothing of it: tracing off, the task not sampled (\`tracing.samplePercent\`), or older than \`tracing.retentionHours\`; check the id with ${taskStatus(c)}`,
  },
  ERR_TRACING_DISABLED: {
    exit: FAILURE,
    status: 409,
    hint: 'turn on `tracing.enabled` in the config file (or P2P_AI_TRACING__ENABLED=true) and restart the node; library users install @p2p-ai/tracing',
  },
  ERR_TRACING_OPTION: { exit: USAGE, hint: 'see the tracing.* settings in docs/configuration.md' },
  ERR_TRACE_STORE: {
    exit: FAILURE,
    hint: (c) =>
      `traces.db in ${c.dataDir ?? 'the data directory'} cannot be used: check the disk and its permissions, or move the file aside (only the traces are lost)`,
  },
  ERR_DEBUG_BUSY: {
    exit: FAILURE,
    status: 409,
    hint: 'wait for the one being taken to finish, then run the command again',
  },
  ERR_TASK_ID_CONFLICT: {
    exit: USAGE,
    status: 409,
    hint: 'that id belongs to a task of another type: choose another id',
  },
  ERR_BACKEND_FAILED: {
    exit: FAILURE,
    hint: "the backend failed on this input; the node's log has its error",
  },
  ERR_WORKER_CRASHED: {
    exit: FAILURE,
    hint: "a worker thread died (often out of memory); the node's log says why; run it again",
  },
  ERR_ENGINE_STOPPED: {
    exit: FAILURE,
    status: 503,
    hint: `the node is stopping; start it again with ${$('node start')}`,
  },
  ERR_INVALID_CONFIG: {
    exit: USAGE,
    hint: 'fix the engine setting the message names (docs/configuration.md)',
  },
  ERR_INVALID_BACKEND: {
    exit: FAILURE,
    hint: 'the backend does not follow the Backend contract (see @p2p-ai/engine README)',
  },
  ERR_BACKEND_CONFLICT: {
    exit: FAILURE,
    hint: 'two backends serve the same task type: register only one of them',
  },
  ERR_BACKEND_NOT_FOUND: { exit: FAILURE, hint: 'register the backend before using it' },
  ERR_MOCK_FAILURE: {
    exit: FAILURE,
    hint: 'the mock task was asked to fail (`fail: true`); drop that field',
  },
  ERR_JOB_FAILED: {
    exit: EXIT.TASK_FAILED,
    hint: `the output file has each failed item's line and why; fix them and ${$('job resume <id>')} (a completed job: submit the failed lines as a new job)`,
  },
  ERR_INVALID_JOB: {
    exit: USAGE,
    status: 400,
    hint: `see ${$('job submit --help')} and docs/jobs.md for what a job takes`,
  },
  ERR_JOB_NOT_FOUND: {
    exit: FAILURE,
    status: 404,
    hint: `list known jobs with ${$('job list')} (finished jobs are kept for engine.resultTtlMs, 24 h)`,
  },
  ERR_JOB_INPUT: {
    exit: FAILURE,
    status: 400,
    hint: 'check the path of --input (the node reads it: give a path it can reach) and its permissions',
  },
  ERR_JOB_INPUT_CHANGED: {
    exit: FAILURE,
    status: 409,
    hint: 'results so far belong to the old file: submit a new job for the new one (another --output)',
  },
  ERR_JOB_OUTPUT: {
    exit: FAILURE,
    status: 409,
    hint: 'choose another --output, add --overwrite to replace the file, or check its directory can be written',
  },
  ERR_JOB_NOT_RESUMABLE: {
    exit: FAILURE,
    status: 409,
    hint: `see what the job did with ${$('job status <id>')}; a completed job has every result already`,
  },
  ERR_JOB_ITEM_FAILED: {
    exit: FAILURE,
    hint: `fix the item the message names, then ${$('job resume <id>')}: items with a result are not run again`,
  },
  ERR_JOB_STORE: {
    exit: FAILURE,
    hint: 'check free disk space and the permissions of <data-dir>/store/jobs',
  },
  ERR_STORE_CORRUPT: {
    exit: FAILURE,
    hint: (c) =>
      `the result store ${pathOf(c, 'in the data directory')} is damaged: move it aside (the node starts a new one; past results are lost)`,
  },
  ERR_STORE_INCOMPATIBLE: {
    exit: FAILURE,
    hint: 'a newer p2p-ai (or another program) wrote the store: upgrade, or use another --data-dir',
  },
  ERR_STORE_CLOSED: { exit: FAILURE, hint: `the node is stopping; start it again with ${$('node start')}` },
  ERR_STORE_FAILED: {
    exit: FAILURE,
    hint: 'check free disk space and the permissions of the data directory',
  },
  ERR_MODEL_NOT_FOUND: {
    exit: FAILURE,
    status: 422,
    hint: `add one with ${$('models add')} or ${$('models pull')} (a running node serves it at once); ${$('models list')} shows what there is`,
  },
  ERR_MODEL_CORRUPT: {
    exit: FAILURE,
    status: 422,
    hint: `the model file changed since it was added (its sha256 differs): add it again with ${$('models add')}, or pull it again`,
  },
  ERR_MODEL_TOO_LARGE: {
    exit: FAILURE,
    hint: "the model (with its context) does not fit the node's memory budget (limits.memory, docs/contributing-resources.md): raise it, or use a smaller model, quantization or context; the network tries a peer with room",
  },
  ERR_INVALID_MODEL_ENTRY: {
    exit: USAGE,
    status: 400,
    hint: 'fix the model entry the message names (name, absolute path, sha256)',
  },
  // @p2p-ai/llama: the generate task on GGUF models
  ERR_CONTEXT_LENGTH_EXCEEDED: {
    exit: USAGE,
    hint: "the prompt and the reply must fit the model's context: shorten the prompt or the conversation, or lower --param maxTokens",
  },
  ERR_LLAMA_UNAVAILABLE: {
    exit: FAILURE,
    hint: 'llama.cpp has no prebuilt binary for this platform: run generate tasks on another node (--target)',
  },
  ERR_GENERATION_FAILED: {
    exit: FAILURE,
    hint: "llama.cpp failed while generating; the node's log has its error; run it again",
  },
  ERR_INVALID_LLAMA_OPTIONS: {
    exit: USAGE,
    hint: 'fix the llama backend option the message names (threads, contextSize, memoryBudgetBytes...)',
  },
  ERR_UNSUPPORTED_MODEL: {
    exit: USAGE,
    status: 422,
    hint: `choose a model that serves this task type (${$('models list')})`,
  },
  ERR_INVALID_TENSOR: { exit: USAGE, hint: "give each input tensor the model's name, type and shape" },
  ERR_TOKENIZER_NOT_FOUND: {
    exit: USAGE,
    hint: `name \`words\` or a model with a tokenizer.json (${$('models list')})`,
  },
  ERR_INVALID_IMAGE: { exit: USAGE, hint: 'give a PNG, JPEG or WebP image (--file image.png)' },
  ERR_INFERENCE_FAILED: {
    exit: FAILURE,
    hint: "ONNX Runtime refused this input; check the input shapes against the model's",
  },
  ERR_INVALID_ONNX_OPTIONS: { exit: USAGE, hint: 'fix the ONNX setting the message names' },
  ERR_MODEL_DOWNLOAD_FAILED: {
    exit: FAILURE,
    hint: 'check the repository name and --revision, and that the hub is reachable (--endpoint, HF_ENDPOINT); run the pull again to continue where it stopped',
  },

  // @p2p-ai/llama
  ERR_GGUF_FILE_NOT_FOUND: {
    exit: USAGE,
    hint: `name a quantization the repository has (owner/repo:Q4_K_M) or its file (owner/repo:file.gguf); see docs/models.md`,
  },

  // @p2p-ai/node
  ERR_CONFIG_INVALID: { exit: USAGE, hint: 'see docs/configuration.md for every setting' },
  ERR_CONFIG_SYNTAX: { exit: USAGE, hint: 'fix the YAML at the line and column the message gives' },
  ERR_CONFIG_READ: {
    exit: USAGE,
    hint: 'check the path given to --config (or P2P_AI_CONFIG) and its permissions',
  },
  ERR_INVALID_STATE_TRANSITION: {
    exit: FAILURE,
    hint: 'the node was used out of order (for example started after it stopped): create a new one',
  },
  ERR_START_ABORTED: { exit: EXIT.INTERRUPTED, hint: 'the start was interrupted; run it again' },
  ERR_START_FAILED: {
    exit: FAILURE,
    hint: (c) => {
      const cause = (c.err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
      if (cause?.code === 'EADDRINUSE' || /EADDRINUSE/.test(String((c.err as Error | undefined)?.message)))
        return 'that port is taken; choose another with --port, or 0 for any free port'
      const inner =
        typeof cause?.code === 'string' && cause.code !== 'ERR_START_FAILED' ? TABLE[cause.code] : undefined
      if (inner !== undefined) return render(inner, { ...c, err: cause })
      return `see the log above${c.dataDir === undefined ? '' : `, or ${c.dataDir}/node.log for --detach`}`
    },
  },
  ERR_DATA_DIR: {
    exit: FAILURE,
    hint: 'choose another directory with --data-dir, or fix the permissions of this one',
  },
  ERR_HEALTH_CHECK_TIMEOUT: { exit: FAILURE, hint: "a component is slow to answer; see the node's log" },
  ERR_DUPLICATE_HEALTH_CHECK: { exit: FAILURE, hint: 'register each health check under its own name' },
  ERR_UNKNOWN_PEER: { exit: FAILURE, status: 404, hint: `see the known peers with ${$('node peers')}` },
  ERR_INVALID_PEER_ADDRESS: {
    exit: USAGE,
    status: 400,
    hint: 'give a PeerId, or a multiaddr ending in /p2p/<peerId> such as /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW... (docs/networking.md)',
  },
  ERR_DIAL_FAILED: {
    exit: FAILURE,
    status: 502,
    hint: 'the peer is not reachable at that address: check the address, or reach a peer behind NAT through its relay (/p2p/<relay>/p2p-circuit/p2p/<peer>)',
  },
  ERR_NODE_NOT_ACTIVE: {
    exit: FAILURE,
    status: 503,
    hint: 'the node is starting or stopping: try again in a moment',
  },
  ERR_NO_CAPABLE_PEER: {
    exit: FAILURE,
    status: 503,
    hint: `no connected peer runs this task type now: see ${$('node peers')}, or run it here with --target self`,
  },
  ERR_RETRIES_EXHAUSTED: {
    exit: FAILURE,
    hint: (c) => `every attempt failed; ${taskStatus(c)} and ${$('node peers')} show where and why`,
  },
  ERR_PEER_DISCONNECTED: { exit: FAILURE, hint: retry },
  ERR_PEER_UNRESPONSIVE: { exit: FAILURE, hint: retry },
  ERR_RESULT_TIMEOUT: {
    exit: FAILURE,
    hint: 'give it longer with --timeout <seconds>, or run it here with --target self',
  },
  ERR_STREAM_OPEN_FAILED: { exit: FAILURE, hint: `the peer cannot be reached: see ${$('node peers')}` },
  ERR_PROTOCOL_VIOLATION: { exit: FAILURE, hint: peerTrouble },
  ERR_INVALID_TARGET: {
    exit: USAGE,
    status: 400,
    hint: `--target takes a PeerId (${$('node peers')} lists them) or self`,
  },
  ERR_INVALID_TASK: {
    exit: USAGE,
    status: 400,
    hint: 'fix the field the message names (type, input, priority 0-9, timeout)',
  },
  ERR_NONDETERMINISTIC_TASK: {
    exit: USAGE,
    status: 400,
    hint: 'redundant runs agree only when they repeat themselves: use --param temperature=0, or give --param seed=<n>',
  },
  ERR_EXCHANGE_STOPPED: {
    exit: FAILURE,
    status: 503,
    hint: `the node stopped before the task finished: start it again with ${$('node start')} and submit the task again`,
  },
  ERR_CANCELLED: { exit: FAILURE, hint: 'it was cancelled; submit it again to run it' },
  ERR_NODE_PAUSED: {
    exit: FAILURE,
    hint: `the node paused under its owner's limits (idle-only, time windows, battery; ${$('node status')} says which) and handed the task back: run it again, another peer takes it`,
  },
  ERR_INVALID_TASK_DEFINITION: {
    exit: FAILURE,
    hint: 'fix the task definition the message names (see registerTask in @p2p-ai/node)',
  },
  ERR_ACCESS_DENIED: {
    exit: FAILURE,
    hint: "the peer is not on this node's allowlist, or this node not on the peer's (network.allowlist)",
  },
  ERR_RATE_LIMITED: {
    exit: FAILURE,
    hint: 'the provider limits how fast one peer may send it tasks (its protection.tasksPerSecond); this node waits the time it was given before sending there again: send fewer tasks at once, or let them go to other providers',
  },
  ERR_INPUT_TOO_LARGE: {
    exit: FAILURE,
    hint: 'the provider takes smaller inputs for this task type (its protection.maxInputBytes): split the input, or send it to another provider with --target',
  },
  ERR_NO_AGREEMENT: {
    exit: FAILURE,
    hint: 'the nodes that ran it gave different answers and no majority agreed; try a larger --redundancy',
  },
  ERR_CONTENT_UNAVAILABLE: {
    exit: FAILURE,
    status: 502,
    hint: `no connected peer sent the blocks of that CID whole and in time: check that the peer holding it is connected (${$('node peers')}), then run it again`,
  },
  ERR_CONTENT_TOO_LARGE: {
    exit: FAILURE,
    status: 413,
    hint: 'the content is larger than a node takes (content.maxBytes) or than limits.disk leaves room for: raise them, or split the input',
  },
  ERR_CONTENT_DISABLED: {
    exit: USAGE,
    status: 409,
    hint: 'content by CID is off on this node: set content.enabled to true in its configuration (or P2P_AI_CONTENT__ENABLED=true) and restart it',
  },
  ERR_INVALID_CONTENT: {
    exit: FAILURE,
    hint: 'the content under that CID is not one JSON text: the peer that stored it is broken',
  },

  // @p2p-ai/content
  ERR_MODEL_NOT_IN_SWARM: {
    exit: FAILURE,
    status: 404,
    hint: `no connected peer announces that model (with a CID): see ${$('node peers')}, or pull it from a hub with ${$('models pull <name>')}`,
  },

  // @p2p-ai/metrics
  ERR_METRICS_LISTEN: {
    exit: FAILURE,
    hint: 'give the metrics endpoint another port (`--metrics-port`, `metrics.port`; 0 picks a free one), or turn metrics off',
  },
  ERR_METRICS_TOKEN: {
    exit: USAGE,
    hint: 'put the token on the first line of the file `metrics.tokenFile` names, or set it empty for no token',
  },
  ERR_METRICS_ATTACHED: {
    exit: FAILURE,
    hint: 'make one nodeMetrics() per node: a registry collects from one node',
  },
  ERR_METRICS_OFF: {
    exit: FAILURE,
    status: 404,
    hint: `start the node with ${$('node start --metrics')}, or set \`metrics.enabled: true\` in its configuration`,
  },

  ERR_DASHBOARD_PORT_IN_USE: {
    exit: FAILURE,
    status: 409,
    hint: `give the dashboard another port (${$('dashboard --port 8081')}, \`--dashboard-port\`, \`dashboard.port\`; 0 picks a free one), or stop the program that holds it`,
  },
  ERR_DASHBOARD_NOT_BUILT: {
    exit: FAILURE,
    hint: 'the @p2p-ai/dashboard package has no built page: in a source checkout run `pnpm build`; otherwise reinstall the package',
  },

  // Errors of the operating system (Node.js `code`s).
  EACCES: {
    exit: FAILURE,
    hint: 'permission denied: check who owns the file or directory the message names',
  },
  EPERM: {
    exit: FAILURE,
    hint: 'the operation is not permitted: check who owns the file or directory the message names',
  },
  ENOENT: { exit: FAILURE, hint: 'check that the path the message names exists' },
  ENOSPC: { exit: FAILURE, hint: 'the disk is full: free some space' },
  EROFS: { exit: FAILURE, hint: 'the file system is read-only: choose another --data-dir' },
  EMFILE: { exit: FAILURE, hint: 'too many open files: raise the limit (`ulimit -n`)' },
  EADDRINUSE: {
    exit: FAILURE,
    hint: 'that port is taken; choose another with --port, or 0 for any free port',
  },
}

/** The policy of a code, if it is a known one. */
export function policyOf(code: string | undefined): ErrorPolicy | undefined {
  return code === undefined ? undefined : Object.hasOwn(TABLE, code) ? TABLE[code] : undefined
}

/** The hint for a code, if it is a known one. */
export function hintFor(code: string | undefined, ctx: HintContext = {}): string | undefined {
  const policy = policyOf(code)
  return policy === undefined ? undefined : render(policy, ctx)
}

function render(policy: ErrorPolicy, ctx: HintContext): string {
  return typeof policy.hint === 'string' ? policy.hint : policy.hint(ctx)
}

/**
 * How the CLI reports `err`: its code (if it has one), exit code and hint. An error's own `hint`
 * and `exitCode` (the CLI's errors) come first, then the table's for its code. An error without a
 * code gets no hint: that one is a bug.
 */
export function explain(
  err: unknown,
  ctx: Omit<HintContext, 'err'> = {},
): { code: string | undefined; exitCode: number; hint: string | undefined } {
  const e = err as { code?: unknown; hint?: unknown; exitCode?: unknown } | null | undefined
  const code = typeof e?.code === 'string' ? e.code : undefined
  const policy = policyOf(code)
  const own = typeof e?.hint === 'string' ? e.hint : undefined
  return {
    code,
    exitCode: typeof e?.exitCode === 'number' ? e.exitCode : (policy?.exit ?? EXIT.FAILURE),
    hint: own ?? (policy === undefined ? undefined : render(policy, { ...ctx, err })),
  }
}

/** Every known code. */
export const KNOWN_CODES: readonly string[] = Object.keys(TABLE)

/** HTTP status of the codes the control API answers with. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(TABLE).flatMap(([code, p]) => (p.status === undefined ? [] : [[code, p.status]])),
)
