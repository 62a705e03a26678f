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
import type { Application, Environ } from "@foobar/tsgi";
import { plainText } from "./plain-text.js";

/**
 * POSIX `normpath`, exactly as Python's `posixpath.normpath` (which wsgiref uses): drops empty
 * and `.` segments; `..` removes the segment before it, stops at the root of an absolute path
 * and is kept at the start of a relative one; two leading slashes stay two (POSIX leaves `//`
 * to the system), three or more become one.
 */
function normalizePosixPath(path: string): string {
  if (path === "") return ".";
  const root = !path.startsWith("/")
    ? ""
    : path.startsWith("//") && !path.startsWith("///")
      ? "//"
      : "/";
  const kept: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== ".." || (root === "" && kept.length === 0) || kept.at(-1) === "..")
      kept.push(segment);
    else kept.pop();
  }
  return root + kept.join("/") || ".";
}

/**
 * Moves the next path segment from `PATH_INFO` to `SCRIPT_NAME` and returns it: wsgiref's
 * `shift_path_info`, edge cases included (tests/unit/app/shift-path-info.test.ts checks it
 * against `python3`). `/a/b` → returns `"a"`, SCRIPT_NAME gains `/a`, PATH_INFO is `/b`.
 *
 * What wsgiref does, and so this does too:
 *   - `PATH_INFO` `""` → null, nothing changed.
 *   - Empty and `.` segments in the middle of PATH_INFO are dropped (`//a` → `"a"`, PATH_INFO
 *     `/a/./b` → `/b`); `..` stays in PATH_INFO but, once shifted, is resolved in SCRIPT_NAME
 *     (SCRIPT_NAME goes through POSIX normpath: `/x` + `..` → `""`).
 *   - PATH_INFO `/` → returns `""` and SCRIPT_NAME gains a trailing `/` (`/wsgi` → `/wsgi/`), so
 *     an app can tell `/x/` from `/x` — even though SCRIPT_NAME is otherwise never `"/"`.
 *   - A last segment `.` (`/.`) → null, but both keys are still rewritten (PATH_INFO → `""`).
 *   - PATH_INFO without a leading `/` (the contract forbids it) → an error (Python: IndexError).
 */
export function shiftPathInfo(environ: Environ): string | null {
  const pathInfo = environ.PATH_INFO;
  if (pathInfo === "") return null;
  const parts = pathInfo.split("/");
  if (parts.length < 2)
    throw new RangeError(
      `shiftPathInfo: PATH_INFO ${JSON.stringify(pathInfo)} does not start with "/"`,
    );
  const middle = parts.slice(1, -1).filter((part) => part !== "" && part !== ".");
  const remaining = [parts[0]!, ...middle, parts.at(-1)!];
  const [name] = remaining.splice(1, 1) as [string];

  let scriptName = normalizePosixPath(`${environ.SCRIPT_NAME}/${name}`);
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (name === "" && !scriptName.endsWith("/")) scriptName += "/";

  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = remaining.join("/");
  return name === "." ? null : name;
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
