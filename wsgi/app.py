"""The teeny WSGI app: the original that foobar's TypeScript hello app ports.

PEP 3333 in one function. Gunicorn calls ``app(environ, start_response)`` for every request;
the app calls ``start_response(status, headers)`` and returns an iterable of bytes.

* curl (``Accept: */*``) gets ``Hello, World!``, like foobar's ``app/hello.ts``.
* A browser (``Accept: text/html``) gets the environ Gunicorn built, as the same table the
  TypeScript hello page shows (``app/hello-page.ts``), and the pid of the worker that answered.
* ``Accept: application/json`` gets that environ as JSON: what foobar's ``/compare`` page reads.

Standard library only (Debian's python3): there is no Python package index to install from.
"""
import html
import json
import os
import socket


def wants(accept, media_type):
    """Does the Accept header name this type (and not refuse it with q=0)?"""
    for media_range in accept.split(","):
        media, *params = [part.strip().lower() for part in media_range.split(";")]
        refused = any(param.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for param in params)
        if media == media_type and not refused:
            return True
    return False


def from_native(value):
    """Native strings hold bytes as Latin-1 (PEP 3333); this is the UTF-8 text they stand for."""
    try:
        text = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
    return text


def describe(value):
    """How one environ value looks: strings as JSON, other values by what they are."""
    if isinstance(value, str):
        text = from_native(value)
        shown = json.dumps(value)
        return shown if text == value else f"{shown} (UTF-8: {text})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, tuple):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, type):
        return f"class {value.__name__}"
    return f"<{type(value).__name__}>"


def kind(key):
    """The row's colour: CGI variable, request header, wsgi.* key, or a server extension."""
    if key.startswith("HTTP_"):
        return "header"
    if key.startswith("wsgi."):
        return "wsgi"
    return "extension" if "." in key else "cgi"


STYLE = """
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
tr.wsgi th { color: #8a3ffc; }
tr.extension th { color: #b15c00; }
.legend span { margin-right: 1rem; }
.hint { color: #5b6475; }
"""


def page(environ):
    rows = "\n".join(
        f'<tr class="{kind(key)}"><th scope="row">{html.escape(key)}</th>'
        f"<td>{html.escape(describe(environ[key]))}</td></tr>"
        for key in sorted(environ)
    )
    path = from_native(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    request = html.escape(f"{environ['REQUEST_METHOD']} {path}")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello, World! — the WSGI original</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Hello, World!</h1>
<p class="hint">This page is a WSGI application (<code>wsgi/app.py</code>) served by
{html.escape(environ.get("SERVER_SOFTWARE", "a WSGI server"))}. Gunicorn turned your browser's
request into the <code>environ</code> below and called <code>app(environ, start_response)</code>;
the app answered with <code>start_response("200 OK", headers)</code> and this HTML.</p>
<dl class="facts">
<dt>Request</dt><dd><code>{request}</code></dd>
<dt>Scheme</dt><dd><code id="url-scheme">{html.escape(environ["wsgi.url_scheme"])}</code> <span class="hint">— <code>wsgi.url_scheme</code>: behind nginx, Gunicorn takes it from nginx's <code>X-Forwarded-Proto</code></span></dd>
<dt>Host</dt><dd><code id="hostname">{html.escape(socket.gethostname())}</code> <span class="hint">— in Docker, the container's id</span></dd>
<dt>Worker pid</dt><dd><code id="worker-pid">{os.getpid()}</code> <span class="hint">— reload: with several workers, another one may answer</span></dd>
<dt>Middleware</dt><dd id="middleware-trail">(none)</dd>
</dl>
<h2>The environ this app received</h2>
<p class="legend hint"><span style="color:#1d2330">CGI variables</span><span style="color:#0b6e4f">HTTP_* request headers</span><span style="color:#8a3ffc">wsgi.* contract keys</span><span style="color:#b15c00">server extensions (gunicorn.*, RAW_URI is a CGI-style one)</span></p>
<table id="environ">
<thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="hint">Try <code>curl http://localhost:8000/wsgi/</code>: without <code>Accept: text/html</code> the same app answers plain <code>Hello, World!</code>.</p>
</body>
</html>
"""


def as_json(environ):
    """The environ as data: native strings as they are; other values, described, under "others"."""
    strings = {key: value for key, value in environ.items() if isinstance(value, str)}
    others = {key: describe(value) for key, value in environ.items() if not isinstance(value, str)}
    return json.dumps({"environ": strings, "others": others, "pid": os.getpid()}, sort_keys=True)


def app(environ, start_response):
    accept = environ.get("HTTP_ACCEPT", "")
    if wants(accept, "application/json"):
        body = as_json(environ).encode("ascii")
        content_type = "application/json"
    elif wants(accept, "text/html") or wants(accept, "application/xhtml+xml"):
        body = page(environ).encode("utf-8")
        content_type = "text/html; charset=utf-8"
    else:
        body = b"Hello, World!"
        content_type = "text/plain; charset=utf-8"
    start_response("200 OK", [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Vary", "Accept"),
        ("Cache-Control", "no-store"),
        # The page reflects request headers: no scripts, no outside loads.
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ])
    return [body]
