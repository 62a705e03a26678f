/**
 * `/compare`: one request, two servers. The TSGI environ foobar's gateway built for this request
 * beside the WSGI environ Gunicorn built for the same request — the port and the original, key by
 * key, each difference highlighted and, where it is a known one, explained in a line.
 *
 * The request reaches Gunicorn through the project's own proxy middleware (`app/proxy.ts`):
 * the seed's "remote processing by forwarding requests over a network", used for real. The
 * Python side is the teeny app in `wsgi/app.py`, asked for its JSON view (`Accept:
 * application/json`). Without it (plain `npm start`), the page says how to start it.
 */
import type { Application, Environ } from "@foobar/tsgi";
import { quotePath } from "./environ-http.js";
import { describeValue } from "./describe-value.js";
import { escapeHtml } from "./hello-page.js";
import { proxy, type ProxyApplication } from "./proxy.js";
import { readAll } from "./xslt.js";

/** What `wsgi/app.py` answers to `Accept: application/json`. */
interface WsgiEcho {
  /** The environ's native strings, as they are. */
  environ: Record<string, string>;
  /** Every other value, described (`<Body>`, `[1,0]`, `true`, `class FileWrapper`). */
  others: Record<string, string>;
  pid: number;
}

/** The WSGI name of a TSGI key: PEP 3333's `wsgi.*` is `tsgi.*`; the raw target has two names. */
function wsgiKeyOf(key: string): string {
  if (key.startsWith("tsgi.")) return "wsgi." + key.slice(5);
  if (key === "gateway.raw_uri") return "RAW_URI";
  return key;
}

const HOP_BY_HOP_NOTE =
  "hop-by-hop: belongs to one connection; the proxy drops it and its HTTP client writes its own";
const PROXY_NOTE = "the proxy middleware (app/proxy.ts) adds this hop to the list";

/** One line for each known reason a key differs (or exists on one side only); else null. */
export function explainDifference(
  key: string,
  ours: string | undefined,
  theirs: string | undefined,
): string | null {
  if (key.startsWith("tsgi."))
    return ours !== undefined && theirs !== undefined
      ? "PEP 3333's wsgi.* key, under TSGI's prefix; objects are each language's own"
      : "each contract's own key";
  if (key.startsWith("wsgi.")) return "each contract's own key";
  if (key.startsWith("gunicorn."))
    return "Gunicorn's extension: the client socket itself (TSGI hands apps no socket)";
  if (key === "gateway.raw_uri")
    return "the request-target as received: the browser asked for /compare…, the proxy asked Gunicorn for /wsgi/…";
  if (key === "gateway.peer_addr") return "foobar's extension: the proxy that named the client";
  if (key.startsWith("gateway.")) return "foobar's extension";
  if (key.startsWith("demo.")) return "recorded by the demo's middleware on the way in";
  switch (key) {
    case "SCRIPT_NAME":
      return "each app's mount point: /compare in the demo, /wsgi on the Python side";
    case "PATH_INFO":
      return ours === '""' && theirs === '"/"'
        ? "an empty path goes over HTTP as /: a URL path is never empty"
        : null;
    case "SERVER_SOFTWARE":
      return "each server names itself";
    case "SERVER_NAME":
    case "SERVER_PORT":
      // Both servers report the socket they listen on, so the reason depends on where Gunicorn
      // listens: every address in its container, or the one COMPARE_UPSTREAM names on a host.
      return theirs === '"0.0.0.0"'
        ? "each server's own listening socket: Gunicorn binds 0.0.0.0 (every address, as in its container)"
        : "each server's own listening socket: Gunicorn's is the one COMPARE_UPSTREAM reaches, the gateway's the one this request came in on";
    case "SERVER_PROTOCOL":
      return "two HTTP connections (client → gateway, proxy → Gunicorn), each with its own version";
    case "REMOTE_ADDR":
      return "each server's TCP peer — for foobar, the client a trusted proxy named in X-Forwarded-For (Gunicorn never reads it)";
    case "REMOTE_PORT":
      return "each TCP connection has its own client port";
    case "HTTP_HOST":
      return "the proxy's HTTP client names the upstream in Host; the original goes on in X-Forwarded-Host";
    case "HTTP_ACCEPT":
      return "/compare asks Gunicorn's app for its JSON view";
    case "HTTP_X_FORWARDED_FOR":
    case "HTTP_X_FORWARDED_PROTO":
    case "HTTP_X_FORWARDED_HOST":
      return PROXY_NOTE;
    case "HTTP_CONNECTION":
    case "HTTP_KEEP_ALIVE":
    case "HTTP_TE":
    case "HTTP_UPGRADE":
    case "HTTP_TRANSFER_ENCODING":
    case "HTTP_PROXY_CONNECTION":
      return HOP_BY_HOP_NOTE;
    case "HTTP_EXPECT":
      return "100-continue is between the client and the gateway; the proxy does not pass it on";
    default:
      return null;
  }
}

export interface ComparedRow {
  /** The TSGI key (or the WSGI key, for a row only Gunicorn has). */
  key: string;
  wsgiKey: string;
  ours: string | undefined;
  theirs: string | undefined;
  state: "same" | "differs" | "tsgi-only" | "wsgi-only";
  note: string | null;
}

/** The two environs, aligned key by key (`tsgi.x` beside `wsgi.x`), sorted by key. */
export function alignEnvirons(environ: Environ, wsgi: WsgiEcho): ComparedRow[] {
  const theirsByKey = new Map<string, string>();
  for (const [key, value] of Object.entries(wsgi.environ))
    theirsByKey.set(key, describeValue(value));
  for (const [key, value] of Object.entries(wsgi.others)) theirsByKey.set(key, value);

  const rows: ComparedRow[] = [];
  for (const [key, value] of Object.entries(environ)) {
    const wsgiKey = wsgiKeyOf(key);
    const ours = describeValue(value);
    const theirs = theirsByKey.get(wsgiKey);
    theirsByKey.delete(wsgiKey);
    const state = theirs === undefined ? "tsgi-only" : theirs === ours ? "same" : "differs";
    const note = state === "same" ? null : explainDifference(key, ours, theirs);
    rows.push({ key, wsgiKey, ours, theirs, state, note });
  }
  for (const [wsgiKey, theirs] of theirsByKey)
    rows.push({
      key: wsgiKey,
      wsgiKey,
      ours: undefined,
      theirs,
      state: "wsgi-only",
      note: explainDifference(wsgiKey, undefined, theirs),
    });
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const STYLE = `
body { font: 16px/1.5 system-ui, sans-serif; max-width: 76rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 1rem 0; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; }
code, td, th { font-family: ui-monospace, monospace; font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { text-align: left; vertical-align: top; padding: 0.2rem 0.5rem; border-bottom: 1px solid #e3e6ec; word-break: break-all; }
thead th { font-family: system-ui, sans-serif; }
col.key { width: 20%; } col.value { width: 28%; } col.note { width: 24%; }
tr.differs td.value { background: #fff4d6; }
tr.tsgi-only td.value, tr.wsgi-only td.value { background: #eef2ff; }
tr.unexplained td.value { background: #ffe1e1; }
td.note { color: #5b6475; font-family: system-ui, sans-serif; }
.legend span { margin-right: 1rem; padding: 0 0.3rem; }
.hint { color: #5b6475; }
.unavailable { border: 1px solid #e3b341; background: #fff8e6; padding: 0.5rem 1rem; }
`;

function cell(value: string | undefined): string {
  return value === undefined
    ? '<td class="value">—</td>'
    : `<td class="value">${escapeHtml(value)}</td>`;
}

function renderRows(rows: ComparedRow[]): string {
  return rows
    .map((row) => {
      const classes: string[] = [row.state];
      if (row.state !== "same" && row.note === null) classes.push("unexplained");
      const key =
        row.wsgiKey === row.key
          ? escapeHtml(row.key)
          : `${escapeHtml(row.key)} <span class="hint">↔ ${escapeHtml(row.wsgiKey)}</span>`;
      const note =
        row.state === "same" ? "" : escapeHtml(row.note ?? "not a known difference: look closer");
      return `<tr class="${classes.join(" ")}" data-key="${escapeHtml(row.key)}"><th scope="row">${key}</th>${cell(row.ours)}${cell(row.theirs)}<td class="note">${note}</td></tr>`;
    })
    .join("\n");
}

function lessons(environ: Environ): string {
  const example = `${quotePath(environ.SCRIPT_NAME)}/caf%C3%A9`;
  return `<h2>What to look for</h2>
<ul>
<li><strong>Native strings.</strong> Both servers percent-decode <code>PATH_INFO</code> to bytes and show each byte as one Latin-1 character: <a href="${escapeHtml(example)}">/compare/café</a> gives <code>"/cafÃ©"</code> on both sides: the two UTF-8 bytes of é, one character each (the table adds the UTF-8 reading).</li>
<li><strong>Names.</strong> PEP 3333's <code>wsgi.*</code> keys are <code>tsgi.*</code> in TSGI; Gunicorn's <code>RAW_URI</code> is foobar's <code>gateway.raw_uri</code>.</li>
<li><strong>What each server drops.</strong> foobar drops header names with <code>_</code> (so <code>X_Forwarded_For</code> cannot pose as <code>X-Forwarded-For</code>), as Gunicorn does since 22.0 (20.1.0 kept them). The proxy drops hop-by-hop headers.</li>
<li><strong>What each server joins.</strong> A repeated header becomes one value: <code>"a, b"</code> in foobar, <code>"a,b"</code> in Gunicorn.</li>
<li><strong>Who the client is.</strong> Behind a trusted proxy foobar's <code>REMOTE_ADDR</code> is the browser; Gunicorn's is always its TCP peer.</li>
</ul>
<p class="hint">The full list, checked against Debian's Gunicorn on every test run: docs/tsgi.md, "foobar and Gunicorn side by side".</p>`;
}

function page(environ: Environ, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TSGI beside WSGI — foobar</title>
<style>${STYLE}</style>
</head>
<body>
<h1>One request, two servers</h1>
<p class="hint">foobar's gateway turned this request into a TSGI <code>environ</code> and called the
demo app; the <code>/compare</code> app then forwarded the same request, with foobar's own proxy
middleware, to Debian's Gunicorn serving the seed's teeny WSGI app, which answered with the WSGI
<code>environ</code> Gunicorn built. Request: <code>${escapeHtml(`${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}`)}</code></p>
${body}
</body>
</html>
`;
}

function unavailable(environ: Environ, why: string): string {
  const rows = Object.entries(environ)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([key, value]) =>
        `<tr class="tsgi-only" data-key="${escapeHtml(key)}"><th scope="row">${escapeHtml(key)}</th>${cell(describeValue(value))}${cell(undefined)}<td class="note"></td></tr>`,
    )
    .join("\n");
  return page(
    environ,
    `<div class="unavailable" id="compare-unavailable">
<p><strong>The Python side is not running</strong> (${escapeHtml(why)}), so here is the TSGI side alone.</p>
<p>Start the whole stack, Gunicorn included: <code>docker compose up</code>, then open
<code>http://localhost:8000/compare</code>. Or, without Docker (Debian: <code>apt-get install gunicorn</code>):</p>
<pre><code>SCRIPT_NAME=/wsgi gunicorn -c wsgi/gunicorn.conf.py --chdir wsgi -b 127.0.0.1:8001
COMPARE_UPSTREAM=http://127.0.0.1:8001/wsgi npm start</code></pre>
</div>
<table id="compare">
<colgroup><col class="key"><col class="value"><col class="value"><col class="note"></colgroup>
<thead><tr><th scope="col">Key</th><th scope="col">TSGI (foobar gateway, pid ${process.pid})</th><th scope="col">WSGI (Gunicorn)</th><th scope="col">Why they differ</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
  );
}

function compared(environ: Environ, wsgi: WsgiEcho, upstream: string): string {
  const rows = alignEnvirons(environ, wsgi);
  const count = (state: ComparedRow["state"]) => rows.filter((row) => row.state === state).length;
  const unexplained = rows.filter((row) => row.state !== "same" && row.note === null).length;
  return page(
    environ,
    `<dl class="facts">
<dt>TSGI side</dt><dd>foobar gateway, worker pid <code id="tsgi-pid">${process.pid}</code></dd>
<dt>WSGI side</dt><dd>${escapeHtml(wsgi.environ["SERVER_SOFTWARE"] ?? "Gunicorn")}, worker pid <code id="wsgi-pid">${wsgi.pid}</code>, reached at <code>${escapeHtml(upstream)}</code></dd>
<dt>Keys</dt><dd id="compare-summary">${count("same")} the same, ${count("differs")} different, ${count("tsgi-only")} only in TSGI, ${count("wsgi-only")} only in WSGI, ${unexplained} unexplained</dd>
</dl>
<p class="legend hint"><span style="background:#fff4d6">different value</span><span style="background:#eef2ff">one side only</span><span style="background:#ffe1e1">not a known difference</span></p>
<table id="compare">
<colgroup><col class="key"><col class="value"><col class="value"><col class="note"></colgroup>
<thead><tr><th scope="col">Key</th><th scope="col">TSGI (foobar gateway)</th><th scope="col">WSGI (Gunicorn)</th><th scope="col">Why they differ</th></tr></thead>
<tbody>
${renderRows(rows)}
</tbody>
</table>
${lessons(environ)}`,
  );
}

function html(status: `${number} ${string}`, text: string): [`${number} ${string}`, Uint8Array] {
  return [status, new TextEncoder().encode(text)];
}

/**
 * The /compare application. `upstream` is the Python service's URL including its mount, e.g.
 * `http://wsgi:8000/wsgi` (Gunicorn with SCRIPT_NAME=/wsgi); undefined → the how-to-start page.
 */
export function comparePage(
  upstream: string | undefined,
): Application & { close(): Promise<void> } {
  const forwarder: ProxyApplication | undefined =
    upstream === undefined
      ? undefined
      : proxy({ upstreams: [upstream], readTimeout: 10_000, retryAfter: 0 });

  const application = async (environ: Environ, startResponse: Parameters<Application>[1]) => {
    let status: `${number} ${string}`;
    let body: Uint8Array;
    if (forwarder === undefined || upstream === undefined) {
      [status, body] = html(
        "503 Service Unavailable",
        unavailable(environ, "COMPARE_UPSTREAM is not set"),
      );
    } else {
      // The same request, but asking the teeny app for its JSON view. Copied: the demo's own
      // environ (shown on the left) must stay as the gateway built it.
      const forwarded = { ...environ, HTTP_ACCEPT: "application/json" } as Environ;
      let upstreamStatus = "";
      const answer = await readAll(
        await forwarder(forwarded, (upstreamLine) => {
          upstreamStatus = upstreamLine;
          return () => {};
        }),
      );
      let wsgi: WsgiEcho | undefined;
      if (upstreamStatus.startsWith("200 ")) {
        try {
          wsgi = JSON.parse(Buffer.from(answer).toString("utf8")) as WsgiEcho;
        } catch {
          wsgi = undefined;
        }
      }
      [status, body] =
        wsgi !== undefined && typeof wsgi.environ === "object"
          ? html("200 OK", compared(environ, wsgi, upstream))
          : html(
              "503 Service Unavailable",
              unavailable(environ, `${upstream} answered ${upstreamStatus || "nothing"}`),
            );
    }
    startResponse(status, [
      ["Content-Type", "text/html; charset=utf-8"],
      ["Content-Length", String(body.length)],
      // The page reflects request headers: no scripts, no outside loads.
      ["Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"],
      ["Cache-Control", "no-store"],
    ]);
    return [body];
  };
  return Object.assign(application, { close: async () => forwarder?.close() });
}
