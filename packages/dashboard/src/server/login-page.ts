/**
 * What a browser without a session sees: where to get a login link, and a form to paste a token
 * into. No script, nothing about the node.
 */
export function loginPage(notice?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2p-ai dashboard: sign in</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; background: #0f172a; color: #e2e8f0; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  main { max-width: 32rem; padding: 2rem; background: #1e293b; border-radius: 12px; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  code { background: #0f172a; padding: 0.1rem 0.35rem; border-radius: 4px; }
  label { display: block; margin: 1rem 0 0.25rem; }
  input { width: 100%; box-sizing: border-box; padding: 0.5rem; font: inherit; border-radius: 6px; border: 1px solid #64748b; background: #0f172a; color: #e2e8f0; }
  button { margin-top: 0.75rem; padding: 0.5rem 1rem; font: inherit; border-radius: 6px; border: 0; background: #38bdf8; color: #0f172a; font-weight: 600; cursor: pointer; }
  :focus-visible { outline: 3px solid #fbbf24; outline-offset: 2px; }
  .notice { color: #fcd34d; }
</style>
</head>
<body>
<main>
<h1>p2p-ai dashboard</h1>
${notice === undefined ? '' : `<p class="notice" role="alert">${escapeHtml(notice)}</p>`}
<p>This dashboard needs a login link. On the machine that runs the node, run <code>p2p-ai-agents dashboard</code> and open the URL it prints (each link works once).</p>
<form method="post" action="/login">
<label for="token">Or paste the token from such a link</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
