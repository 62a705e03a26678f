/**
 * Routing middleware: one URL space, several applications.
 *
 * PEP 3333 splits the request path in two: `SCRIPT_NAME` (where the app is mounted) and
 * `PATH_INFO` (the rest). A router moves the matched prefix from `PATH_INFO` to `SCRIPT_NAME`
 * before calling the mounted app, so that app sees its own root (`PATH_INFO` starts at its
 * mount) and can still build correct links from `SCRIPT_NAME`. `SCRIPT_NAME + PATH_INFO` — the
 * request's path — never changes.
 *
 * Routers match on `PATH_INFO`, which the server has percent-decoded: a `%2F` in the URL is a
 * `/` here, exactly as in every WSGI router (the raw path stays in `gateway.raw_uri`).
 */
import type { Application, Environ } from "../tsgi/types.js";
import { plainText } from "./plain-text.js";

/**
 * Moves the next path segment from `PATH_INFO` to `SCRIPT_NAME` and returns it (wsgiref's
 * `shift_path_info`): `/a/b` → returns `"a"`, SCRIPT_NAME gains `/a`, PATH_INFO is `/b`.
 * Repeated slashes go with the segment after them (`//a` → `"a"`). Returns null, changing
 * nothing, when no segment is left: PATH_INFO is `""`, or only a trailing slash that the app
 * may still want to see (`/a/` and `/a` can be different pages), and which would otherwise
 * leave a SCRIPT_NAME of `"/"`, which the PEP forbids.
 */
export function shiftPathInfo(environ: Environ): string | null {
  const pathInfo = environ.PATH_INFO;
  let start = 0;
  while (pathInfo.charCodeAt(start) === 0x2f) start++;
  if (start === pathInfo.length) return null;
  const next = pathInfo.indexOf("/", start);
  const end = next === -1 ? pathInfo.length : next;
  environ.SCRIPT_NAME += pathInfo.slice(0, end);
  environ.PATH_INFO = pathInfo.slice(end);
  return pathInfo.slice(start, end);
}

/** The router's answer when no mount matches. */
export const notFound: Application = plainText("404 Not Found", "Not Found\n");

/** `"/api/"` → `"/api"`, `"/"` → `""`: mount prefixes in SCRIPT_NAME form. */
function normalizePrefix(prefix: string): string {
  if (prefix !== "" && !prefix.startsWith("/"))
    throw new Error(`urlMap: mount prefix ${JSON.stringify(prefix)} must start with "/"`);
  return prefix.replace(/\/+$/, "");
}

/**
 * Dispatches by path prefix: `urlMap({"/api": api, "/": site})`. The longest prefix that ends
 * on a segment boundary wins (`/api` matches `/api` and `/api/x`, not `/apix`); `"/"` matches
 * everything left. Unmatched paths go to `fallback` (a 404 by default).
 */
export function urlMap(
  mounts: Record<string, Application>,
  fallback: Application = notFound,
): Application {
  const table = Object.entries(mounts)
    .map(([prefix, app]) => ({ prefix: normalizePrefix(prefix), app }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const prefixes = new Set<string>();
  for (const { prefix } of table) {
    if (prefixes.has(prefix)) throw new Error(`urlMap: "${prefix || "/"}" is mounted twice`);
    prefixes.add(prefix);
  }

  return function routeByPrefix(environ, startResponse) {
    const pathInfo = environ.PATH_INFO;
    for (const { prefix, app } of table) {
      if (!pathInfo.startsWith(prefix)) continue;
      const rest = pathInfo.slice(prefix.length);
      if (rest !== "" && rest.charCodeAt(0) !== 0x2f) continue; // "/apix" is not under "/api"
      environ.SCRIPT_NAME += prefix;
      environ.PATH_INFO = rest;
      return app(environ, startResponse);
    }
    return fallback(environ, startResponse);
  };
}
