/**
 * The demo application: every job PEP 3333 gives middleware, composed into one TSGI app.
 *
 *   /             the hello page
 *   /api/…        a Fastify app (JSON routes, schema validation), through the Fastify adapter
 *   /hono/…       a Hono app (a fetch handler), through fromFetch
 *   /express/…    an Express app (a (req, res) listener), through fromExpress
 *   /environ      this request's environ as XML, rendered to HTML by the XSLT middleware
 *   /environ.xml  the same XML, raw
 *   /proxy/…      a reverse proxy / load balancer in front of $PROXY_UPSTREAMS
 *   /proxy-health the proxy's view of its upstreams, as JSON
 *   /compare      this request's TSGI environ beside the WSGI one Gunicorn built ($COMPARE_UPSTREAM)
 *
 * A router (`urlMap`) dispatches by path prefix and shifts SCRIPT_NAME/PATH_INFO, so each app
 * sees its own root. `trail` records the middleware each request passed through.
 * `npm start` serves this module's default export.
 */
import type { Application } from "@foobar/tsgi";
import { createApi } from "./api.js";
import { comparePage } from "./compare-page.js";
import { ENVIRON_STYLESHEET } from "./environ-stylesheet.js";
import { environView } from "./environ-view.js";
import { fromExpress } from "./express-adapter.js";
import { createExpressApp } from "./express-app.js";
import { fromFastify } from "./fastify-adapter.js";
import { fromFetch } from "./fetch-adapter.js";
import { createHonoApp } from "./hono-app.js";
import { helloPage } from "./hello-page.js";
import { trail } from "./middleware-trail.js";
import { proxy } from "./proxy.js";
import { plainText } from "./plain-text.js";
import { notFound, urlMap } from "./routing.js";
import { xslt } from "./xslt.js";

function json(value: () => unknown): Application {
  return (_environ, startResponse) => {
    const body = new TextEncoder().encode(JSON.stringify(value(), null, 2) + "\n");
    startResponse("200 OK", [
      ["Content-Type", "application/json"],
      ["Content-Length", String(body.length)],
      ["Cache-Control", "no-store"],
    ]);
    return [body];
  };
}

/** The app at "/" answers the root only; other unmatched paths get the router's 404. */
function rootOnly(app: Application): Application {
  return (environ, startResponse) =>
    environ.PATH_INFO === "" || environ.PATH_INFO === "/"
      ? app(environ, startResponse)
      : notFound(environ, startResponse);
}

const PROXY_HELP =
  "The proxy has no upstreams. Start the demo with PROXY_UPSTREAMS set to a comma-separated\n" +
  "list of upstream URLs, e.g. PROXY_UPSTREAMS=http://127.0.0.1:9001,http://127.0.0.1:9002\n";

/** The proxy mounts, configured from `PROXY_UPSTREAMS` (or a 503 explaining how to set it). */
function proxyMounts(upstreamList: string | undefined): Record<string, Application> {
  const upstreams = (upstreamList ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  if (upstreams.length === 0) {
    const help = plainText("503 Service Unavailable", PROXY_HELP);
    return { "/proxy": help, "/proxy-health": help };
  }
  const forwarder = proxy({ upstreams });
  return {
    "/proxy": trail("proxy")(forwarder),
    "/proxy-health": json(() => forwarder.health()),
  };
}

/** Builds the demo; `env` is where PROXY_UPSTREAMS is read (the process environment by default). */
export function createDemo(env: Record<string, string | undefined> = process.env): Application {
  const router = urlMap({
    "/": rootOnly(helloPage),
    "/api": trail("fastify-adapter")(fromFastify(createApi())),
    "/hono": trail("fetch-adapter")(fromFetch(createHonoApp().fetch)),
    "/express": trail("express-adapter")(fromExpress(createExpressApp())),
    "/environ": trail("xslt")(xslt(ENVIRON_STYLESHEET)(environView)),
    "/environ.xml": environView,
    ...proxyMounts(env["PROXY_UPSTREAMS"]),
    "/compare": trail("compare")(comparePage(env["COMPARE_UPSTREAM"] || undefined)),
  });
  return trail("router")(router);
}

export const demo = createDemo();
export default demo;
