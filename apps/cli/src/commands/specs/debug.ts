import { str } from '../../args/parse.js'
import type { CommandSpec } from '../../args/spec.js'
import { BIN_NAME } from '../../constants.js'
import {
  DEFAULT_PROBE_BYTES,
  DEFAULT_PROFILE_DURATION_MS,
  DEFAULT_SNAPSHOT_LOG_LINES,
  DEFAULT_STRESS_MAX_IN_FLIGHT,
  LOG_RING_LINES,
  MAX_PROBE_BYTES,
  MAX_PROFILE_DURATION_MS,
  MAX_STRESS_DURATION_MS,
  MAX_STRESS_IN_FLIGHT,
  MAX_STRESS_RATE,
} from '../../debug/constants.js'
import { UsageError } from '../../errors.js'
import { debugCmd } from '../loaders.js'
import { JSON_OUT, NODE_LOCATION } from './options.js'

/** The `debug` commands (see ../table.ts): each asks the running node through its control API. */
export const DEBUG_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'debug snapshot',
    summary:
      'write everything about the node to one file: status, peers, config (secrets redacted), recent logs, metrics',
    description: [
      'The file is JSON, fit to attach to a bug report: settings marked secret (network.psk,',
      `tracing.otlp.headers) are redacted. Read it with \`${BIN_NAME} debug analyze --file <file>\`.`,
    ].join('\n'),
    options: [
      {
        name: 'output',
        short: 'o',
        kind: 'string',
        value: 'file',
        description: 'where to write it (- for stdout; default p2p-ai-snapshot-<time>.json here)',
      },
      {
        name: 'logs',
        kind: 'integer',
        value: 'n',
        min: 0,
        max: LOG_RING_LINES,
        default: DEFAULT_SNAPSHOT_LOG_LINES,
        description: 'recent log lines to include',
      },
      ...NODE_LOCATION,
      { ...JSON_OUT, description: 'print where it went as JSON' },
    ],
    examples: [
      { cmd: 'debug snapshot' },
      { cmd: 'debug snapshot --output node.json --logs 1000' },
      { cmd: 'debug snapshot --output - | jq .peers', note: 'to stdout' },
    ],
    load: debugCmd('snapshot'),
  },
  {
    name: 'debug analyze',
    summary: 'say what looks wrong with the node, and what to do about it',
    description: [
      'Reads a snapshot file (--file), or takes one of the running node, and runs every check on it:',
      'state and health, peers (none, failing, shunned, slow, relayed only, old protocol), memory,',
      'task failure rate, queue backlog, event loop delay, disk space, logged errors, tracing.',
    ].join('\n'),
    options: [
      {
        name: 'file',
        short: 'f',
        kind: 'string',
        value: 'file',
        description: 'a snapshot from `debug snapshot`',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'debug analyze' }, { cmd: 'debug analyze --file node.json --json' }],
    load: debugCmd('analyze'),
  },
  {
    name: 'debug network-test',
    summary: "test the network: reachability, each peer's round trips, throughput and protocol versions",
    description: [
      'Round trips are libp2p pings. Throughput is a signed `mock` task carrying the payload to the',
      'peer and back (signatures and JSON included), for peers that run `mock`.',
    ].join('\n'),
    options: [
      { name: 'peer', kind: 'string', value: 'peerId', description: 'test this peer only' },
      {
        name: 'probe-bytes',
        kind: 'integer',
        value: 'n',
        min: 0,
        max: MAX_PROBE_BYTES,
        default: DEFAULT_PROBE_BYTES,
        description: 'payload of the throughput probe, each way; 0 skips it',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'debug network-test' }, { cmd: 'debug network-test --peer 12D3KooW... --json' }],
    load: debugCmd('network-test'),
  },
  {
    name: 'debug stress',
    summary: 'put a controlled load on the swarm and report what came back',
    description: [
      'Submits tasks at --task-rate per second for --duration seconds through the node, routed and',
      'failed over like any task. Once --max-in-flight are unfinished, new ones are skipped (and',
      'counted) instead of queued, so the load stays what was asked for. Bounded: at most',
      `${MAX_STRESS_DURATION_MS / 1000} s and ${MAX_STRESS_RATE} tasks per second.`,
    ].join('\n'),
    options: [
      {
        name: 'duration',
        kind: 'number',
        value: 'seconds',
        min: 0.1,
        max: MAX_STRESS_DURATION_MS / 1000,
        default: 60,
        description: 'how long to submit tasks',
      },
      {
        name: 'task-rate',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: MAX_STRESS_RATE,
        default: 100,
        description: 'tasks per second',
      },
      { name: 'type', short: 't', kind: 'string', value: 'type', default: 'mock', description: 'task type' },
      {
        name: 'input-json',
        kind: 'string',
        value: 'json',
        description: 'the input of every task (default for mock: a short text)',
      },
      {
        name: 'target',
        kind: 'string',
        value: 'peerId',
        description: 'send every task to this peer (`self` for this node)',
      },
      {
        name: 'max-in-flight',
        kind: 'integer',
        value: 'n',
        min: 1,
        max: MAX_STRESS_IN_FLIGHT,
        default: DEFAULT_STRESS_MAX_IN_FLIGHT,
        description: 'unfinished tasks at most',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    check: (o) => {
      const json = str(o, 'input-json')
      if (json === undefined) return
      let value: unknown
      try {
        value = JSON.parse(json)
      } catch (err) {
        throw new UsageError(`--input-json is not JSON: ${(err as Error).message}`)
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new UsageError('--input-json must be a JSON object')
    },
    examples: [
      { cmd: 'debug stress --duration 60 --task-rate 100' },
      {
        cmd: 'debug stress --duration 10 --task-rate 20 --type chunk --input-json \'{"text":"One. Two.","size":5}\'',
      },
    ],
    load: debugCmd('stress'),
  },
  {
    name: 'debug profile',
    summary: 'record a CPU profile of the running node (.cpuprofile, for Chrome DevTools)',
    description: [
      "Samples the node's main thread with V8's profiler for --duration seconds. Open the file in",
      'Chrome DevTools (Performance, or the JavaScript Profiler) or VS Code. Written owner-only',
      'into the data directory (debug/) unless --output names a new file.',
    ].join('\n'),
    options: [
      {
        name: 'duration',
        kind: 'number',
        value: 'seconds',
        min: 0.1,
        max: MAX_PROFILE_DURATION_MS / 1000,
        default: DEFAULT_PROFILE_DURATION_MS / 1000,
        description: 'how long to sample',
      },
      { name: 'output', short: 'o', kind: 'string', value: 'file', description: 'a new file to write it to' },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'debug profile --duration 30' },
      { cmd: 'debug profile --duration 5 --output /tmp/node.cpuprofile' },
    ],
    load: debugCmd('profile'),
  },
  {
    name: 'debug heap-dump',
    summary: 'write a V8 heap snapshot of the running node (.heapsnapshot)',
    description: [
      'The node pauses while V8 walks its heap (seconds for a large one). The snapshot holds',
      "everything in the node's memory, its private key included: it is written owner-only into",
      'the data directory (debug/) unless --output names a new file; share it with care.',
    ].join('\n'),
    options: [
      { name: 'output', short: 'o', kind: 'string', value: 'file', description: 'a new file to write it to' },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'debug heap-dump' }],
    load: debugCmd('heap-dump'),
  },
]
