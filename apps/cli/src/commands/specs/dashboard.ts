import { DEFAULT_DASHBOARD_PORT } from '@p2p-ai/node/control'
import type { CommandSpec } from '../../args/spec.js'
import { dashboardCmd } from '../loaders.js'
import { JSON_OUT, NODE_LOCATION } from './options.js'

/** `dashboard`: a command of its own, outside the groups (see ../table.ts). */
export const DASHBOARD_COMMAND: CommandSpec = {
  name: 'dashboard',
  summary: "print a link that opens the running node's dashboard in a browser (signs in once)",
  description: [
    'The node serves its dashboard on 127.0.0.1 (started now if it was not: `node start --dashboard`',
    'starts it with the node). The link carries a one-time login token: the first browser to open it',
    'is signed in with a session cookie and the token leaves the address bar; run this again for',
    'another link. Nothing of the dashboard answers without a session. See docs/dashboard.md.',
  ].join('\n'),
  options: [
    ...NODE_LOCATION,
    {
      name: 'port',
      short: 'p',
      kind: 'integer',
      value: 'port',
      min: 0,
      max: 65535,
      description: `where to serve it if the node does not yet (else dashboard.port, ${DEFAULT_DASHBOARD_PORT}); 0 picks a free one`,
    },
    {
      name: 'open',
      kind: 'boolean',
      description: 'also open the link in the default browser of this machine',
    },
    JSON_OUT,
  ],
  examples: [
    { cmd: 'dashboard', note: 'print the link; open it in a browser on this machine' },
    { cmd: 'dashboard --open' },
    { cmd: 'dashboard --port 0 --json', note: 'on a free port, for a script' },
  ],
  load: dashboardCmd,
}
