import {
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  LOG_LEVELS,
} from '@p2p-ai/node/control'
import { list, num, str } from '../../args/parse.js'
import type { CommandSpec, OptionSpec, OptionValues } from '../../args/spec.js'
import { BIN_NAME } from '../../constants.js'
import { DEFAULT_SERVICE_NAME, SERVICE_NAME } from '../../daemon/service.js'
import { UsageError } from '../../errors.js'
import { nodeCmd, serviceCmd } from '../loaders.js'
import { CONFIG, DATA_DIR, JSON_OUT, NODE_LOCATION } from './options.js'

const SERVICE_NAME_OPTION: OptionSpec = {
  name: 'name',
  kind: 'string',
  value: 'name',
  default: DEFAULT_SERVICE_NAME,
  description: 'name of the systemd unit (or suffix of the launchd label), for several nodes on one machine',
}

const SERVICE_PLATFORM_OPTION: OptionSpec = {
  name: 'platform',
  kind: 'string',
  value: 'manager',
  choices: ['systemd', 'launchd'],
  description:
    "the service manager to write for (default: this machine's: systemd on Linux, launchd on macOS)",
}

function checkServiceName(o: OptionValues): void {
  const name = str(o, 'name')
  if (name !== undefined && !SERVICE_NAME.test(name)) {
    throw new UsageError(`--name ${name}: letters, digits, -, _ and . only`)
  }
}

/** The `node` commands (see ../table.ts). */
export const NODE_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'node start',
    summary: 'run a node, in the foreground (Ctrl-C stops it) or in the background with --detach',
    description: [
      'Settings come from the config file, then P2P_AI_* environment variables, then these options',
      '(see docs/configuration.md). The node writes node.pid, control.json and control.token (mode',
      '0600) to its data directory; other commands find it through them. With --detach it runs in',
      'the background under a watchdog, which writes its output to node.log in the data directory',
      '(rolled at 100 MB and daily, a week kept: log.rotate.*) and restarts it after a crash, waiting',
      'longer after each one and giving up after 5 crashes in 60 s (supervisor.*); this command',
      'returns once the node is ready. `node stop` stops both.',
    ].join('\n'),
    options: [
      {
        name: 'port',
        short: 'p',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        description: 'TCP and QUIC (UDP) port to listen on (WebSockets keeps its own)',
      },
      {
        name: 'listen',
        kind: 'list',
        value: 'multiaddr',
        description: 'listen address, instead of the configured ones (repeatable)',
      },
      CONFIG,
      DATA_DIR,
      {
        name: 'mdns-interface',
        kind: 'string',
        value: 'interface',
        description: 'where mDNS discovery runs: lan, loopback, auto, an interface name or an address',
      },
      { name: 'no-mdns', kind: 'boolean', description: 'no mDNS discovery (bootstrap peers only)' },
      {
        name: 'bootstrap',
        short: 'b',
        kind: 'list',
        value: 'multiaddr',
        description: 'peer to dial at start, ending in /p2p/<peerId> (repeatable)',
      },
      {
        name: 'announce',
        kind: 'list',
        value: 'multiaddr',
        description:
          'public address to announce, trusted without a dial-back: a server whose interface has a private address, a port forward (repeatable)',
      },
      {
        name: 'detach',
        short: 'd',
        kind: 'boolean',
        description:
          'run in the background under a watchdog that restarts the node after a crash, and return once the node is ready',
      },
      {
        name: 'supervise',
        kind: 'boolean',
        description:
          'run the watchdog in the foreground (for a service manager such as launchd): it runs the node, restarts it after a crash and writes node.log',
      },
      {
        name: 'log-level',
        kind: 'string',
        value: 'level',
        choices: LOG_LEVELS,
        description: 'log level',
      },
      {
        name: 'cpu-limit',
        kind: 'integer',
        value: 'percent',
        min: 1,
        max: 100,
        description: "share of the machine's CPU the node may use for tasks (limits.cpu)",
      },
      {
        name: 'idle-only',
        kind: 'boolean',
        description: "take peers' tasks only while the rest of the machine is idle (limits.idleOnly)",
      },
      {
        name: 'metrics',
        kind: 'boolean',
        description: `serve Prometheus metrics at http://${DEFAULT_METRICS_HOST}:${DEFAULT_METRICS_PORT}/metrics (metrics.enabled)`,
      },
      {
        name: 'metrics-port',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        description: 'serve the metrics on this port instead; 0 picks a free one (implies --metrics)',
      },
      {
        name: 'dashboard',
        kind: 'boolean',
        description: `serve the dashboard at http://127.0.0.1:${DEFAULT_DASHBOARD_PORT}/ and print a one-time login link (dashboard.enabled)`,
      },
      {
        name: 'dashboard-port',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        description:
          'serve the dashboard on this port of 127.0.0.1 instead; 0 picks a free one (implies --dashboard)',
      },
      {
        name: 'control-port',
        kind: 'integer',
        value: 'port',
        min: 0,
        max: 65535,
        default: 0,
        description: 'port of the control API on 127.0.0.1; 0 picks a free one',
      },
      { ...JSON_OUT, description: 'with --detach: print the started node as JSON' },
    ],
    check: (o) => {
      if (list(o, 'listen').length > 0 && num(o, 'port') !== undefined) {
        throw new UsageError(
          'give --port or --listen, not both',
          '--listen takes full multiaddrs, such as /ip4/0.0.0.0/tcp/9000',
        )
      }
      if (o['no-mdns'] === true && str(o, 'mdns-interface') !== undefined) {
        throw new UsageError('--no-mdns and --mdns-interface contradict each other')
      }
      if (o.detach === true && o.supervise === true) {
        throw new UsageError(
          '--detach and --supervise contradict each other',
          '--detach runs the watchdog in the background; --supervise runs it in the foreground',
        )
      }
      if (o.json === true && o.detach !== true) {
        throw new UsageError(
          '--json goes with --detach',
          `in the foreground, ask a running node with \`${BIN_NAME} node status --json\``,
        )
      }
    },
    examples: [
      { cmd: 'node start', note: 'in the foreground, Ctrl-C to stop' },
      { cmd: 'node start --port 9000 --detach', note: 'in the background on TCP port 9000' },
      { cmd: 'node start --metrics', note: `with a Prometheus endpoint on port ${DEFAULT_METRICS_PORT}` },
      { cmd: 'node start --dashboard', note: 'with the dashboard; open the link it prints' },
      {
        cmd: 'node start --data-dir ./node-b --listen /ip4/127.0.0.1/tcp/0 --mdns-interface loopback',
        note: 'a second node on this machine',
      },
      {
        cmd: 'node start --no-mdns --bootstrap /ip4/192.168.1.20/tcp/9000/p2p/12D3KooW...',
        note: 'join through a known peer',
      },
      {
        cmd: 'node start --port 4001 --detach',
        note: 'on a machine with a public address: a bootstrap node, DHT server and relay for the swarm',
      },
      {
        cmd: 'node start --port 4001 --announce /ip4/203.0.113.7/tcp/4001 --detach',
        note: 'the same on a cloud server whose interface has a private address',
      },
      {
        cmd: 'node start --bootstrap /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...',
        note: 'at home behind NAT: reachable through the public node, direct where hole punching works',
      },
      {
        cmd: 'node start --detach --cpu-limit 50 --idle-only',
        note: 'lend half the CPU, only while you are away (docs/contributing-resources.md)',
      },
    ],
    load: nodeCmd('start'),
  },
  {
    name: 'node stop',
    summary: 'stop the running node gracefully',
    description: [
      `Running tasks get until the shutdown deadline (${DEFAULT_SHUTDOWN_DEADLINE_MS / 1000} s by default) to finish; peers are told goodbye.`,
      'A client waiting on a task (`task result --wait`) is told at once that the node is stopping.',
    ].join('\n'),
    options: [
      ...NODE_LOCATION,
      {
        name: 'timeout',
        kind: 'number',
        value: 'seconds',
        min: 1,
        default: 20,
        description: 'how long to wait for the node to exit',
      },
      JSON_OUT,
    ],
    examples: [{ cmd: 'node stop' }, { cmd: 'node stop --data-dir ./node-b' }],
    load: nodeCmd('stop'),
  },
  {
    name: 'node install-service',
    summary: 'write a service file that runs the node at login and restarts it after a failure',
    description: [
      'On Linux a systemd user unit (~/.config/systemd/user/<name>.service: Restart=on-failure, low',
      'CPU and I/O priority, the log in the journal); on macOS a launchd agent',
      '(~/Library/LaunchAgents/ai.p2p.<name>.plist) that runs the node under its watchdog. Nothing is',
      'enabled or started: the commands to do so are printed. A node stopped with `node stop` stays',
      'stopped. See docs/operations.md.',
    ].join('\n'),
    options: [
      ...NODE_LOCATION,
      SERVICE_NAME_OPTION,
      SERVICE_PLATFORM_OPTION,
      { name: 'force', kind: 'boolean', description: 'replace a service file that says something else' },
      JSON_OUT,
    ],
    check: checkServiceName,
    examples: [
      { cmd: 'node install-service', note: 'then run the systemctl (or launchctl) commands it prints' },
      { cmd: 'node install-service --data-dir ~/p2p-b --name p2p-ai-b', note: 'a second node' },
    ],
    load: serviceCmd('install'),
  },
  {
    name: 'node uninstall-service',
    summary: 'remove the service file node install-service wrote',
    description:
      'Prints the command that stops and disables the service first, if it was enabled: removing the file alone leaves a running node running.',
    options: [...NODE_LOCATION, SERVICE_NAME_OPTION, SERVICE_PLATFORM_OPTION, JSON_OUT],
    check: checkServiceName,
    examples: [{ cmd: 'node uninstall-service' }],
    load: serviceCmd('uninstall'),
  },
  {
    name: 'node status',
    summary:
      'show whether the node runs: state, identity, reachability, addresses, relays, peers, health, tasks, resources',
    description: [
      'reachability: public (peers on the internet dial it directly), private (behind NAT: reached',
      'through relays, direct where hole punching works) or unknown. observed: the addresses peers on',
      'public addresses saw its connections come from. relays: the relays holding a reservation for',
      'it, and how many it holds for others. hole punch: its punch port and how the NAT maps it.',
      'See docs/networking.md.',
      "Resources: the machine's CPU (this node's share and everyone else's), memory, the data",
      "directory's disk use, load and battery, measured every resources.intervalMs; the owner's",
      'limits; and whether the node takes tasks from peers or is paused, and why.',
    ].join('\n'),
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [
      { cmd: 'node status' },
      { cmd: 'node status --json | jq -r .peerId', note: "just the node's PeerId" },
      { cmd: 'node status --json | jq .resources.paused', note: 'is it lending its machine right now?' },
    ],
    load: nodeCmd('status'),
  },
  {
    name: 'node log-level',
    summary: "show the node's log level, or change it while it runs",
    description: [
      'Levels, most verbose first: trace, debug, info, warn, error, fatal, silent. A change holds until',
      'the node restarts or its config file changes (log.level); the config file is not edited.',
    ].join('\n'),
    args: [{ name: 'level', description: `the new level: ${LOG_LEVELS.join(', ')}`, required: false }],
    options: [...NODE_LOCATION, JSON_OUT],
    check: (_o, args) => {
      const level = args[0]
      if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
        throw new UsageError(`unknown log level "${level}"`, `use one of ${LOG_LEVELS.join(', ')}`)
      }
    },
    examples: [
      { cmd: 'node log-level', note: 'the level in force' },
      { cmd: 'node log-level debug', note: 'more detail, until the next restart' },
    ],
    load: nodeCmd('log-level'),
  },
  {
    name: 'node metrics',
    summary: "print the node's Prometheus metrics (started with --metrics)",
    description: [
      'The same text a Prometheus scrape of the metrics endpoint gets, read through the control API',
      '(no metrics token needed); see docs/observability.md for what each metric means.',
    ].join('\n'),
    options: [...NODE_LOCATION],
    examples: [
      { cmd: 'node metrics' },
      { cmd: 'node metrics | grep ^p2p_ai_tasks_total', note: 'finished tasks by side, type and outcome' },
    ],
    load: nodeCmd('metrics'),
  },
  {
    name: 'node peers',
    summary: 'list the peers the node knows: connected, failed ones being redialled, and banned ones',
    description:
      'CONNECTION says how each is reached: direct, or relayed via a relay (the relay shown); a relayed\npeer turns direct once hole punching succeeds.',
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [
      { cmd: 'node peers' },
      { cmd: 'node peers --json | jq length' },
      {
        cmd: 'node peers --json | jq -r \'.[] | select(.connection.kind == "relayed") | .peerId\'',
        note: 'the peers reached through a relay',
      },
    ],
    load: nodeCmd('peers'),
  },
  {
    name: 'node unban',
    summary: 'let a banned peer in again at once',
    description: [
      'A peer that floods this node, sends malformed or forged messages, or ignores its rate limits is',
      'banned for a while (`node peers` shows until when and why; see docs/delivery.md). This lifts the',
      'ban now; its earlier bans still make its next one longer. To never ban a peer, list it in',
      'protection.exempt.',
    ].join('\n'),
    args: [{ name: 'peer-id', description: 'the PeerId of the banned peer (`node peers` lists it)' }],
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'node unban 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN' }],
    load: nodeCmd('unban'),
  },
  {
    name: 'node connect',
    summary: 'connect the running node to a peer by multiaddr (a relay circuit address too) or PeerId',
    description: [
      'A multiaddr ends in /p2p/<peerId>. A peer behind NAT is reached through its relay:',
      '/ip4/<relay>/tcp/<port>/p2p/<relayId>/p2p-circuit/p2p/<peerId>. A PeerId alone is dialled at the',
      'addresses the node knows for it, else those the DHT finds (a peer behind NAT: its relay address).',
      'Peers found by mDNS, the bootstrap list or the DHT are connected by themselves; this is for one',
      'you know about otherwise.',
    ].join('\n'),
    args: [{ name: 'peer', description: 'where the peer is (ending in /p2p/<peerId>), or its PeerId' }],
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [
      { cmd: 'node connect /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...' },
      {
        cmd: 'node connect /ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay.../p2p-circuit/p2p/12D3KooWPeer...',
        note: 'through a relay',
      },
      { cmd: 'node connect 12D3KooWPeer...', note: 'by PeerId: its addresses are looked up on the DHT' },
    ],
    load: nodeCmd('connect'),
  },
  {
    name: 'node monitor',
    summary: 'a live view of the node: state, peers, tasks and throughput, refreshed every few seconds',
    description:
      'On a terminal the view redraws in place; otherwise one line is printed per refresh (JSON lines with --json).',
    options: [
      ...NODE_LOCATION,
      {
        name: 'interval',
        short: 'i',
        kind: 'number',
        value: 'seconds',
        min: 0.2,
        max: 3600,
        default: 2,
        description: 'refresh period',
      },
      {
        name: 'duration',
        kind: 'number',
        value: 'seconds',
        min: 0,
        default: 0,
        description: 'stop after this long; 0 runs until Ctrl-C',
      },
      { ...JSON_OUT, description: 'print one JSON object per refresh' },
    ],
    examples: [{ cmd: 'node monitor' }, { cmd: 'node monitor --interval 2 --duration 30' }],
    load: nodeCmd('monitor'),
  },
]
