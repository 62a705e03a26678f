/**
 * The teaching hello page: hello, plus a look inside the request.
 *
 * A browser (its Accept header names text/html) gets a small HTML page showing what the app
 * received: the host (the container, in Docker) and the worker's pid (reload to see another
 * replica or worker answer), the middleware the request
 * passed through (`environ["demo.trail"]`, recorded by the demo app), and the whole environ as a
 * table. Anything else — curl sends `Accept: *\/*` — gets the plain hello app's answer, unchanged.
 *
 * Everything on the page comes from the request, so every value is HTML-escaped: a header like
 * `X-Test: <script>` must show as text, never run. No external assets: it works offline.
 */
import { hostname } from "node:os";
import type { Application, Environ } from "@foobar/tsgi";
import { hello } from "./hello.js";
import { trailOf } from "./middleware-trail.js";
import { describeValue, fromNative } from "./describe-value.js";

/** Does the client prefer HTML? Browsers say so first; curl's `*\/*` does not count. */
export function wantsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(",").some((range) => {
    const [type = "", ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const refused = params.some((param) => /^q=0(\.0*)?$/.test(param));
    return !refused && (type === "text/html" || type === "application/xhtml+xml");
  });
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

/** The environ as table rows, sorted by key, each row classed by its group (for the colours). */
function environRows(environ: Environ): string {
  const entries = Object.entries(environ).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries
    .map(([key, value]) => {
      const kind = key.startsWith("HTTP_")
        ? "header"
        : key.startsWith("tsgi.")
          ? "tsgi"
          : key.includes(".")
            ? "extension"
            : "cgi";
      const shown = escapeHtml(describeValue(value));
      return `<tr class="${kind}"><th scope="row">${escapeHtml(key)}</th><td>${shown}</td></tr>`;
    })
    .join("\n");
}

const STYLE = `
body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
h1 { margin-bottom: 0.25rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 1rem 0; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; }
code, td, th { font-family: ui-monospace, monospace; font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.2rem 0.5rem; border-bottom: 1px solid #e3e6ec; }
td { word-break: break-all; }
tr.header th { color: #0b6e4f; }
tr.tsgi th { color: #8a3ffc; }
tr.extension th { color: #b15c00; }
.legend span { margin-right: 1rem; }
.hint { color: #5b6475; }
`;

function renderPage(environ: Environ): string {
  const trail = trailOf(environ);
  const path = fromNative(environ.SCRIPT_NAME + environ.PATH_INFO) || "/";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello, World! — foobar</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Hello, World!</h1>
<p class="hint">This page is a TSGI application. The server turned your browser's request into
the <code>environ</code> below and called the app with it; the app answered with
<code>startResponse("200 OK", headers)</code> and this HTML as its body.</p>
<dl class="facts">
<dt>Request</dt><dd><code>${escapeHtml(`${environ.REQUEST_METHOD} ${path}`)}</code></dd>
<dt>Scheme</dt><dd><code id="url-scheme">${escapeHtml(environ["tsgi.url_scheme"])}</code> <span class="hint">— <code>tsgi.url_scheme</code>: behind nginx, the gateway takes it from nginx's <code>X-Forwarded-Proto</code> (https on port 8443)</span></dd>
<dt>Host</dt><dd><code id="hostname">${escapeHtml(hostname())}</code> <span class="hint">— the machine's name; in Docker, the container id (the first column of <code>docker ps</code>): behind nginx with several replicas, reload to see another one answer</span></dd>
<dt>Worker pid</dt><dd><code id="worker-pid">${process.pid}</code> <span class="hint">— reload: with several workers, another one may answer</span></dd>
<dt>Middleware</dt><dd id="middleware-trail">${trail.length > 0 ? trail.map((name) => `<code>${escapeHtml(name)}</code>`).join(" → ") + " → app" : "(none)"}</dd>
</dl>
<h2>The environ this app received</h2>
<p class="legend hint"><span style="color:#1d2330">CGI variables</span><span style="color:#0b6e4f">HTTP_* request headers</span><span style="color:#8a3ffc">tsgi.* contract keys</span><span style="color:#b15c00">server and middleware extensions</span></p>
<table id="environ">
<thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
<tbody>
${environRows(environ)}
</tbody>
</table>
<p class="hint"><code>tsgi.multiprocess</code> is true under the gateway even with one worker: a reload (HUP), a worker replaced after <code>--max-requests</code> or one more worker (TTIN) runs the same app in another process at any time, so the app must not keep state in one process's memory that every request should see.</p>
<p class="hint">Try <code>curl http://localhost:8000/</code>: without <code>Accept: text/html</code> the same app answers plain <code>Hello, World!</code>.</p>
<p class="hint">In the demo, <code>/hono/page</code> serves this page from inside a Hono app: the request crosses <code>fromFetch</code> into Hono and <code>toFetch</code> back, and the middleware trail above names each adapter on the way.</p>
</body>
</html>
`;
}

export const helloPage: Application = (environ, startResponse) => {
  if (!wantsHtml(environ.HTTP_ACCEPT))
    // The plain answer depends on Accept too: without `Vary: Accept` a shared cache could
    // hand curl's text to a browser, or the other way round.
    return hello(environ, (status, headers, excInfo) =>
      startResponse(status, [...headers, ["Vary", "Accept"]], excInfo),
    );
  const body = new TextEncoder().encode(renderPage(environ));
  startResponse("200 OK", [
    ["Content-Type", "text/html; charset=utf-8"],
    ["Content-Length", String(body.length)],
    // The page reflects request headers: forbid scripts and outside loads outright.
    ["Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"],
    ["Vary", "Accept"],
    ["Cache-Control", "no-store"],
  ]);
  return [body];
};

export default helloPage;
