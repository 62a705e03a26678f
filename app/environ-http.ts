/**
 * Turning an environ back into HTTP: what an app needs when it hands the request on to
 * something that speaks HTTP again (a framework's router, an upstream server). The reverse of
 * the gateway's environ builder, shared by the Fastify adapter and the proxy.
 */
import type { Environ, HeaderList } from "@foobar/tsgi";
import { HOP_BY_HOP } from "@foobar/tsgi/rules";

/** Bytes kept as they are in a URL path; every other byte is percent-encoded. */
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;
const ALL_PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/**
 * Percent-encodes a native-string path (PATH_INFO or SCRIPT_NAME: decoded bytes as Latin-1)
 * back into a URL path. Inverse of the gateway's decoding, except that a `%2F` the client sent
 * comes back as `/` — the PEP's environ cannot tell them apart.
 */
export function quotePath(nativePath: string): string {
  if (ALL_PATH_SAFE.test(nativePath)) return nativePath; // the common case: nothing to encode
  let out = "";
  for (let i = 0; i < nativePath.length; i++) {
    const char = nativePath[i]!;
    if (PATH_SAFE.test(char)) out += char;
    else {
      const code = nativePath.charCodeAt(i) & 0xff;
      out += "%" + (code < 16 ? "0" : "") + code.toString(16).toUpperCase();
    }
  }
  return out;
}

/** PATH_INFO re-encoded, plus `?QUERY_STRING` when there is one: the URL the mounted app sees. */
export function mountedTarget(environ: Environ): string {
  const path = quotePath(environ.PATH_INFO) || "/";
  return environ.QUERY_STRING === "" ? path : `${path}?${environ.QUERY_STRING}`;
}

/** The names listed in a `Connection` header: hop-by-hop for this one message (RFC 9110 §7.6.1). */
function connectionOptions(connection: string | undefined): Set<string> {
  const names = new Set<string>();
  if (connection === undefined) return names;
  for (const name of connection.split(",")) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed !== "") names.add(trimmed);
  }
  return names;
}

/** True for a header that belongs to one connection, not to the message (never forwarded). */
export function isHopByHop(name: string, connectionListed?: Set<string>): boolean {
  const lower = name.toLowerCase();
  return HOP_BY_HOP.has(lower) || (connectionListed?.has(lower) ?? false);
}

/**
 * The request headers as lower-case `name → value`, rebuilt from `HTTP_*`, `CONTENT_TYPE` and
 * `CONTENT_LENGTH`, without hop-by-hop headers (nor those the `Connection` header names).
 * `HTTP_ACCEPT_LANGUAGE` becomes `accept-language`: the environ has lost the original case.
 */
export function requestHeaders(environ: Environ): Record<string, string> {
  const headers: Record<string, string> = {};
  const listed = connectionOptions(environ.HTTP_CONNECTION);
  for (const key of Object.keys(environ)) {
    if (!key.startsWith("HTTP_")) continue;
    const value = environ[key as `HTTP_${string}`];
    if (typeof value !== "string") continue;
    const name = key.slice(5).toLowerCase().replaceAll("_", "-");
    if (isHopByHop(name, listed)) continue;
    headers[name] = value;
  }
  if (environ.CONTENT_TYPE !== undefined && environ.CONTENT_TYPE !== "")
    headers["content-type"] = environ.CONTENT_TYPE;
  if (environ.CONTENT_LENGTH !== undefined && environ.CONTENT_LENGTH !== "")
    headers["content-length"] = environ.CONTENT_LENGTH;
  return headers;
}

/**
 * Response headers from a Node-style header object (`string | string[] | number` values) as a
 * TSGI header list, hop-by-hop headers removed: what a server we talk to said, made fit for ours.
 */
export function responseHeaderList(
  headers: Record<string, string | string[] | number | undefined>,
): HeaderList {
  const connection = headers["connection"];
  const listed = connectionOptions(
    connection === undefined ? undefined : [connection].flat().join(","),
  );
  const list: HeaderList = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isHopByHop(name, listed)) continue;
    if (Array.isArray(value)) for (const item of value) list.push([name, item]);
    else list.push([name, String(value)]);
  }
  return list;
}

/** The same list without the named headers (any case). */
export function withoutHeaders(headers: HeaderList, ...names: string[]): HeaderList {
  const drop = new Set(names.map((name) => name.toLowerCase()));
  return headers.filter(([key]) => !drop.has(key.toLowerCase()));
}
