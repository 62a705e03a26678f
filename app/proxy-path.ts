/**
 * The path a proxied request asks its upstream for: the request's path below the proxy's mount
 * (PATH_INFO), under the upstream's base path, and never outside it.
 *
 * The gateway has already percent-decoded PATH_INFO, as PEP 3333 asks, so `..`, `%2e%2e` and
 * `..%2f` all arrive here as the same `..` segment between slashes. Those dot segments are
 * resolved (RFC 3986 §5.2.4) within the mount: `/../x` is `/x`, and a path cannot climb above
 * the base path however many `..` it has — the way a browser or nginx resolves them.
 *
 * What would only become a dot segment or a slash further on is refused with 400 instead:
 * resolving it here would be guessing how the upstream reads it, and no honest client sends it.
 *   - A percent-encoded dot, slash or backslash *after* decoding (`%252e%252e`): the client
 *     encoded twice, the classic way past a proxy to an upstream that decodes again.
 *   - A backslash: Windows servers and URL parsers (WHATWG, for http URLs) read it as a slash.
 *   - A dot segment with path parameters (`..;`): Java servers (Tomcat, Jetty) strip the
 *     parameters and then resolve the `..`.
 *   - A control character (`%00`, a tab…), or a dot segment padded with spaces (`..%20`): URL
 *     parsers (WHATWG) strip them from the ends of a URL or a path, so `/base/..%00`, decoded
 *     once more, is `/base/..` and then `/`.
 */
import { quotePath } from "./environ-http.js";

/** The request target below the upstream's base path, or why the request is refused (400). */
export type UpstreamTarget = { target: string } | { refused: string };

const CLIMBS_FURTHER_ON =
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  /\\|%(?:2e|2f|5c)|(?:^|\/)\.\.?;|[\x00-\x1f\x7f]|(?:^|\/)(?: +\.\.?|\.\.? +)(?:\/|$)/i;

/** `path` with its `.` and `..` segments resolved; never above `/`. */
export function withoutDotSegments(path: string): string {
  const segments = path.split("/");
  const kept: string[] = [];
  // The first segment is what precedes the leading slash: PATH_INFO has none, or nothing there.
  for (const segment of segments.slice(1)) {
    if (segment === "..") kept.pop();
    else if (segment !== ".") kept.push(segment);
  }
  // `/a/..` names the directory `/`, as `/a/../` does.
  const last = segments[segments.length - 1];
  if (last === "." || last === "..") kept.push("");
  return "/" + kept.join("/");
}

/**
 * The request target to put after the upstream's base path: PATH_INFO resolved and
 * percent-encoded again (always starting with `/`), then `?query` when there is one.
 */
export function upstreamTarget(pathInfo: string, query: string): UpstreamTarget {
  if (CLIMBS_FURTHER_ON.test(pathInfo))
    return {
      refused:
        "the path has a backslash, a control character, a dot segment with parameters or spaces, or an encoded dot or slash",
    };
  const path = quotePath(withoutDotSegments(pathInfo));
  return { target: query === "" ? path : `${path}?${query}` };
}
