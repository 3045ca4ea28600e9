#!/usr/bin/env node
// The two commands of the README, and the set-up they share. Needs only Node.js >= 20.19 and npm:
// pnpm itself comes from the npm registry through npx the first time, then from the workspace.
//
//   npm test          install, build, lint, typecheck, then every test
//   npm run demo      install, build, then the demo (arguments after `--` go to the demo)
//   npm run setup     install and build only
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PNPM_VERSION = '10.34.9'
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`p2p-ai needs Node.js >= 20.19; this is ${process.version}.`)
  process.exit(1)
}

const env = {
  ...process.env,
  // onnxruntime-node's postinstall only downloads optional GPU builds; its CPU binaries ship in the package.
  ONNXRUNTIME_NODE_INSTALL: 'skip',
  npm_config_update_notifier: 'false',
}

function run(label, cmd, args) {
  const started = Date.now()
  if (label) console.log(`\n▶ ${label}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env })
  if (r.error) {
    console.error(`✖ ${label}: could not run ${cmd}: ${r.error.message}`)
    process.exit(1)
  }
  if (r.status !== 0) {
    console.error(`✖ ${label} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status || 1)
  }
  if (label) console.log(`✔ ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
}

const localPnpm = join(root, 'node_modules', '.bin', 'pnpm')
function pnpm(label, args) {
  if (existsSync(localPnpm)) run(label, localPnpm, args)
  else
    run(label, process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--yes', `pnpm@${PNPM_VERSION}`, ...args])
}

function setup() {
  pnpm('install dependencies', ['install', '--frozen-lockfile', '--reporter=append-only'])
  pnpm('build packages', ['run', 'build', '--output-logs=errors-only'])
}

/** `p2p-ai-agents demo run <args>`, with the demo's own exit code. */
function demo(args) {
  const r = spawnSync(
    process.execPath,
    [join(root, 'apps', 'cli', 'dist', 'bin.js'), 'demo', 'run', ...args],
    {
      cwd: root,
      stdio: 'inherit',
      env,
    },
  )
  process.exit(r.status ?? 1)
}

const [command, ...rest] = process.argv.slice(2)
switch (command) {
  case 'setup':
    setup()
    break
  case 'test':
    setup()
    pnpm('lint (biome)', ['run', 'lint'])
    pnpm('typecheck (tsc, sources and tests)', ['run', 'typecheck', '--output-logs=errors-only'])
    pnpm('tests (vitest)', ['exec', 'vitest', 'run', ...rest])
    break
  case 'demo':
    setup()
    // The demo is a command of the CLI (`p2p-ai-agents demo run`); a leading `--` is npm's.
    demo(rest[0] === '--' ? rest.slice(1) : rest)
    break
  default:
    console.error('usage: node scripts/run.mjs <setup|test|demo> [args...]')
    process.exit(2)
}
