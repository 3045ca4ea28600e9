/** The dashboard's failures: one class each, with a stable `code`. */

/** The dashboard's port is taken by another program (or another node's dashboard). */
export class DashboardPortInUseError extends Error {
  static readonly code = 'ERR_DASHBOARD_PORT_IN_USE'
  readonly code = DashboardPortInUseError.code
  override readonly name = 'DashboardPortInUseError'
  readonly port: number

  constructor(port: number, options?: ErrorOptions) {
    super(`port ${port} on 127.0.0.1 is already in use, so the dashboard cannot listen there`, options)
    this.port = port
  }
}

/** The package was installed without its built page (a source checkout not built yet). */
export class DashboardNotBuiltError extends Error {
  static readonly code = 'ERR_DASHBOARD_NOT_BUILT'
  readonly code = DashboardNotBuiltError.code
  override readonly name = 'DashboardNotBuiltError'

  constructor(dir: string, cause?: unknown) {
    super(`the dashboard's page is not in ${dir}`, cause === undefined ? undefined : { cause })
  }
}
