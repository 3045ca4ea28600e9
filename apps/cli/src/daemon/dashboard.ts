/**
 * The dashboard of a node started by `node start`. `@p2p-ai/dashboard` is loaded the first time
 * the dashboard is wanted: at start with `--dashboard` (or `dashboard.enabled`), or later when
 * `p2p-ai-agents dashboard` asks the running node through its control API. It shows the node
 * through its own records, and its tasks through the control API's task operations, so a task
 * lists, submits and streams the same in the browser as on the command line.
 */
import type { NodeConfig, P2PNode } from '@p2p-ai/node'
import type { ControlTarget } from '../control/target.js'
import type { DashboardJson, DashboardRequest } from '../control/types.js'

export interface DaemonDashboard {
  /** Its address and a new one-time login link; starts it first if it is not served yet. */
  open(request: DashboardRequest): Promise<DashboardJson>
  /** `http://127.0.0.1:<port>/` while served. */
  readonly url: string | undefined
  close(): Promise<void>
}

export interface DaemonDashboardInit {
  readonly node: P2PNode
  readonly target: ControlTarget
  readonly dataDir: string
  readonly config: NodeConfig['dashboard']
  readonly onError: (err: unknown) => void
}

type Started = Awaited<ReturnType<typeof import('@p2p-ai/dashboard').startDashboard>>

export function daemonDashboard(init: DaemonDashboardInit): DaemonDashboard {
  let starting: Promise<Started> | undefined
  let served: Started | undefined
  let closed = false

  async function start(port: number): Promise<Started> {
    const [{ nodeSource, startDashboard }, { dashboardTasks }] = await Promise.all([
      import('@p2p-ai/dashboard'),
      import('./dashboard-tasks.js'),
    ])
    const dashboard = await startDashboard({
      source: nodeSource({ node: init.node, tasks: dashboardTasks(init.node, init.target) }),
      port,
      dataDir: init.dataDir,
      historyDays: init.config.historyDays,
      onError: init.onError,
    })
    if (closed) {
      await dashboard.close()
      throw Object.assign(new Error('the node is shutting down'), { code: 'ERR_NODE_STOPPING' })
    }
    served = dashboard
    return dashboard
  }

  return {
    async open(request) {
      const first = starting === undefined
      // A failed start (port taken) may be tried again, on another port.
      starting ??= start(request.port ?? init.config.port).catch((err: unknown) => {
        starting = undefined
        throw err
      })
      const dashboard = await starting
      return { url: dashboard.url, loginUrl: dashboard.loginUrl(), started: first }
    },
    get url() {
      return served?.url
    },
    async close() {
      closed = true
      await served?.close()
    },
  }
}
