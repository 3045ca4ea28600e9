import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** A package README's `js readme-example` block and the `Output:` block it documents. */
export function readmeExample(packageDir: string): {
  example: string | undefined
  output: string | undefined
} {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8')
  return {
    example: /^```js readme-example\n([\s\S]*?)^```$/m.exec(readme)?.[1],
    output: /^Output:\n\n```text\n([\s\S]*?)^```$/m.exec(readme)?.[1],
  }
}

/**
 * Runs `source` as a user would: a module file in the package, importing the built packages by
 * name; resolves to what it printed. (Not `node -e`: node-llama-cpp tests its binary in a forked
 * process, which inherits `-e` and would run the example instead of the test.)
 */
export async function runAsModule(packageDir: string, source: string): Promise<string> {
  const file = join(packageDir, `.readme-example-${process.pid}.mjs`)
  await writeFile(file, source)
  try {
    return (await promisify(execFile)(process.execPath, [file], { cwd: packageDir })).stdout
  } finally {
    await rm(file, { force: true })
  }
}
