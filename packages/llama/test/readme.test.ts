import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const packageDir = join(import.meta.dirname, '..')
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8')

// The README example runs as a user would run it: a module file in the package, importing the
// built packages by name. (Not `node -e`: node-llama-cpp tests its binary in a forked process,
// which inherits `-e` and would run the example instead of the test.)
it('runs the README example and prints the documented output', async () => {
  const example = /^```js readme-example\n([\s\S]*?)^```$/m.exec(readme)?.[1]
  const output = /^Output:\n\n```text\n([\s\S]*?)^```$/m.exec(readme)?.[1]
  expect(example).toBeDefined()
  expect(output).toBeDefined()
  const file = join(packageDir, `.readme-example-${process.pid}.mjs`)
  await writeFile(file, example as string)
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: packageDir })
    expect(stdout).toBe(output)
  } finally {
    await rm(file, { force: true })
  }
})
