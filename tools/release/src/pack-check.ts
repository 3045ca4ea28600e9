import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, relative } from 'node:path'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** A workspace package that is published to npm. */
export interface PublishedPackage {
  readonly name: string
  readonly version: string
  readonly dir: string
  readonly bin: Readonly<Record<string, string>>
}

/** What `pnpm pack` produced for one package. */
export interface PackedPackage extends PublishedPackage {
  readonly tarball: string
  /** Paths inside the tarball, relative to `package/`. */
  readonly files: readonly string[]
}

export interface PackCheckInit {
  /** Repository root. */
  readonly root: string
  /** Where tarballs and the empty project go. @default a fresh directory under the OS temp dir */
  readonly workDir?: string
  /** Command that runs pnpm. @default [`<root>/node_modules/.bin/pnpm`] */
  readonly pnpm?: readonly string[]
}

export interface PackCheckResult {
  readonly workDir: string
  readonly projectDir: string
  readonly packages: readonly PackedPackage[]
}

const WORKSPACE_GLOBS = ['packages', 'apps', 'tools']

/** Lists the workspace packages that are not `private`. */
export async function publishedPackages(root: string): Promise<PublishedPackage[]> {
  const found: PublishedPackage[] = []
  for (const group of WORKSPACE_GLOBS) {
    const entries = await readdir(join(root, group), { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const dir = join(root, group, entry.name)
      const manifest = await readJson(join(dir, 'package.json')).catch(() => undefined)
      if (manifest === undefined || manifest.private === true) continue
      const bin =
        typeof manifest.bin === 'string' ? { [String(manifest.name)]: manifest.bin } : (manifest.bin ?? {})
      found.push({ name: String(manifest.name), version: String(manifest.version), dir, bin })
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Packs every published package with pnpm (which rewrites `workspace:` ranges to real versions),
 * then installs all the tarballs with npm into an empty project, the way a user would.
 * Sibling `@p2p-ai/*` dependencies resolve to the local tarballs through `overrides`, so nothing
 * unpublished is fetched; third-party dependencies come from the npm registry.
 */
export async function packAndInstall(init: PackCheckInit): Promise<PackCheckResult> {
  const { workDir, packages } = await packAll(init)
  const projectDir = join(workDir, 'project')
  await rm(projectDir, { recursive: true, force: true })
  await installProject(
    projectDir,
    packages,
    packages.map((p) => p.name),
  )
  return { workDir, projectDir, packages }
}

/**
 * Packs every published package with pnpm into `<workDir>/tarballs`, without installing them:
 * {@link installProject} installs a project from them.
 */
export async function packAll(
  init: PackCheckInit,
): Promise<{ readonly workDir: string; readonly packages: readonly PackedPackage[] }> {
  const workDir = init.workDir ?? (await mkdtemp(join(tmpdir(), 'p2p-ai-pack-')))
  const tarballDir = join(workDir, 'tarballs')
  await rm(tarballDir, { recursive: true, force: true })
  await mkdir(tarballDir, { recursive: true })

  const [pnpmCmd, ...pnpmArgs] = init.pnpm ?? [join(init.root, 'node_modules', '.bin', 'pnpm')]
  if (pnpmCmd === undefined) throw new Error('pack-check: empty pnpm command')

  // One pnpm packs them all (each start of pnpm is half a second of CPU) and says which tarball
  // is whose.
  const published = await publishedPackages(init.root)
  const { stdout: report } = await exec(
    pnpmCmd,
    [
      ...pnpmArgs,
      '--recursive',
      ...published.flatMap((pkg) => ['--filter', pkg.name]),
      'pack',
      '--pack-destination',
      tarballDir,
      '--json',
    ],
    { cwd: init.root, maxBuffer: 64 * 1024 * 1024 },
  )
  // An array for several packages (one package alone would be an object).
  const reported = JSON.parse(report) as PnpmPackReport | PnpmPackReport[]
  const tarballs = new Map((Array.isArray(reported) ? reported : [reported]).map((t) => [t.name, t.filename]))
  const packed = await Promise.all(
    published.map(async (pkg): Promise<PackedPackage> => {
      const tarball = tarballs.get(pkg.name)
      if (tarball === undefined) throw new Error(`pack-check: pnpm packed no tarball of ${pkg.name}`)
      const { stdout } = await exec('tar', ['-tzf', tarball])
      const files = stdout
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => line.replace(/^package\//, ''))
      return { ...pkg, tarball, files }
    }),
  )
  return { workDir, packages: packed }
}

/**
 * Installs, with npm and the way a user's project would, a project in `projectDir` that depends on
 * `dependencies`: names of packed `@p2p-ai/*` packages (taken from their tarballs), or
 * `name@range` of third-party ones (from the registry). Every `@p2p-ai/*` package the tarballs
 * depend on resolves to its tarball through `overrides`. Install scripts stay off, as in the
 * repository; see {@link reuseNativeBuild} for the one native addon a node needs.
 */
export async function installProject(
  projectDir: string,
  packed: readonly PackedPackage[],
  dependencies: readonly string[],
): Promise<void> {
  await mkdir(projectDir, { recursive: true })
  const specs = Object.fromEntries(packed.map((p) => [p.name, `file:${relative(projectDir, p.tarball)}`]))
  const wanted = Object.fromEntries(
    dependencies.map((d) => {
      const at = d.lastIndexOf('@')
      if (at > 0) return [d.slice(0, at), d.slice(at + 1)]
      const spec = specs[d]
      if (spec === undefined) throw new Error(`pack-check: ${d} is not a packed package and has no version`)
      return [d, spec]
    }),
  )
  await writeFile(
    join(projectDir, 'package.json'),
    `${JSON.stringify({ name: basename(projectDir), private: true, type: 'module', dependencies: wanted, overrides: specs }, null, 2)}\n`,
  )
  await exec(
    'npm',
    [
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      '--no-package-lock',
      '--prefer-offline',
    ],
    {
      cwd: projectDir,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_update_notifier: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    },
  )
}

/**
 * Every package installed in a project's `node_modules`, nested ones included, by name.
 */
export async function installedPackages(projectDir: string): Promise<Set<string>> {
  const names = new Set<string>()
  const walk = async (modules: string, depth: number): Promise<void> => {
    if (depth > 8) return
    for (const entry of await readdir(modules, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const dirs = entry.name.startsWith('@')
        ? (await readdir(join(modules, entry.name), { withFileTypes: true }))
            .filter((e) => e.isDirectory())
            .map((e) => `${entry.name}/${e.name}`)
        : [entry.name]
      for (const name of dirs) {
        names.add(name)
        await walk(join(modules, name, 'node_modules'), depth + 1)
      }
    }
  }
  await walk(join(projectDir, 'node_modules'), 0)
  return names
}

/**
 * Gives the project's copy of a native addon package (better-sqlite3) the binary this repository
 * compiled for the same version and the same Node.js, instead of compiling it again from source
 * (minutes on a small machine, which is what `npm install` with scripts would do here: the prebuilt
 * binaries it would otherwise download are off limits). Refuses when the versions differ.
 */
export async function reuseNativeBuild(
  projectDir: string,
  pkg: string,
  fromPackageDir: string,
): Promise<void> {
  const target = join(projectDir, 'node_modules', pkg)
  const [ours, theirs] = await Promise.all([
    readJson(join(fromPackageDir, 'package.json')),
    readJson(join(target, 'package.json')),
  ])
  if (ours.version !== theirs.version) {
    throw new Error(
      `pack-check: ${pkg} ${String(theirs.version)} was installed, but this repository built ${String(ours.version)}`,
    )
  }
  await cp(join(fromPackageDir, 'build', 'Release'), join(target, 'build', 'Release'), { recursive: true })
}

/** Imports `specifier` in a fresh Node process inside `projectDir` and returns its export names. */
export async function importInProject(projectDir: string, specifier: string): Promise<string[]> {
  const script = `const m = await import(${JSON.stringify(specifier)}); process.stdout.write(JSON.stringify(Object.keys(m)))`
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: projectDir })
  return JSON.parse(stdout) as string[]
}

/** Runs a module script inside `projectDir` and returns its standard output. */
export async function runInProject(projectDir: string, source: string): Promise<string> {
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', source], { cwd: projectDir })
  return stdout
}

/** What `pnpm pack --json` says of one package. */
interface PnpmPackReport {
  readonly name: string
  readonly filename: string
}

async function readJson(path: string): Promise<Record<string, unknown> & { bin?: Record<string, string> }> {
  return JSON.parse(await readFile(path, 'utf8'))
}

export function tarballName(pkg: PackedPackage): string {
  return basename(pkg.tarball)
}
