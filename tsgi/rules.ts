/**
 * The contract's checkable rules about statuses and headers, shared by the gateway (which
 * refuses to put a malformed response on the wire) and the validator (which names the rule).
 * Each check returns what is wrong (a rule name and a sentence), or null. The two environ
 * rules at the end (header names → CGI keys, percent-decoding PATH_INFO) live here too, so the
 * gateway and the in-process test client build the same environ.
 */

/** Headers that describe one connection, not the resource: the server's business only. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

const STATUS = /^[1-9][0-9]{2} [\t\x20-\x7e\x80-\xff]*$/;
/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field-value characters: visible Latin-1, space and tab; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const NOT_LATIN1 = /[\u0100-\uffff]/;
/** A Content-Length value: a decimal number of bytes, nothing else (RFC 9110 §8.6). */
const DIGITS = /^[0-9]+$/;

/** A broken rule: a stable name (what `TsgiViolation.rule` carries) and a sentence. */
export interface RuleProblem {
  rule: string;
  message: string;
}

function problem(rule: string, message: string): RuleProblem {
  return { rule, message };
}

/** `"200 OK"` is valid; `200`, `"200"`, `"200OK"`, `"099 X"` and `"200 OK\r\n"` are not. */
export function checkStatus(status: unknown): RuleProblem | null {
  if (typeof status !== "string")
    return problem(
      "status-not-string",
      `status must be a string like "200 OK", got ${typeof status}`,
    );
  if (NOT_LATIN1.test(status))
    return problem(
      "status-not-latin1",
      `status ${JSON.stringify(status)} is not Latin-1 (a native string)`,
    );
  if (!STATUS.test(status))
    return problem(
      "status-format",
      `status ${JSON.stringify(status)} must be three digits, a space and a reason phrase`,
    );
  return null;
}

/** Checks one `[name, value]` header from an app. */
export function checkHeader(header: unknown): RuleProblem | null {
  if (!Array.isArray(header) || header.length !== 2)
    return problem(
      "header-not-pair",
      `each header must be a [name, value] pair, got ${JSON.stringify(header)}`,
    );
  const [name, value] = header as unknown[];
  if (typeof name !== "string" || typeof value !== "string")
    return problem(
      "header-not-string",
      `header name and value must be strings: ${JSON.stringify(header)}`,
    );
  if (!TOKEN.test(name))
    return problem("header-name", `header name ${JSON.stringify(name)} is not an HTTP token`);
  if (NOT_LATIN1.test(value))
    return problem(
      "header-not-latin1",
      `header ${name} value ${JSON.stringify(value)} is not Latin-1 (a native string)`,
    );
  if (!FIELD_VALUE.test(value))
    return problem(
      "header-control-character",
      `header ${name} value ${JSON.stringify(value)} contains CR, LF, NUL or another control character`,
    );
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower))
    return problem("hop-by-hop-header", `header ${name} is hop-by-hop: only the server may set it`);
  if (lower === "content-length" && !DIGITS.test(value))
    return problem(
      "content-length",
      `Content-Length ${JSON.stringify(value)} is not a number (a decimal count of bytes)`,
    );
  return null;
}

/** Checks the headers list itself, then each header. */
export function checkHeaders(headers: unknown): RuleProblem | null {
  if (!Array.isArray(headers))
    return problem("headers-not-list", `headers must be an array of [name, value] pairs`);
  for (const header of headers) {
    const found = checkHeader(header);
    if (found !== null) return found;
  }
  return null;
}

/** The sentence of `checkStatus`, or null. */
export function statusProblem(status: unknown): string | null {
  return checkStatus(status)?.message ?? null;
}

/** The sentence of `checkHeader`, or null. */
export function headerProblem(header: unknown): string | null {
  return checkHeader(header)?.message ?? null;
}

/** The sentence of `checkHeaders`, or null. */
export function headersProblem(headers: unknown): string | null {
  return checkHeaders(headers)?.message ?? null;
}

/** Statuses whose responses never carry a body (RFC 9110). */
export function forbidsBody(code: number): boolean {
  return code < 200 || code === 204 || code === 304;
}

// ---- The environ side: how a request becomes CGI variables (used by the gateway and by
// tsgi/testing.ts, so both build the same environ). ----

/**
 * `User-Agent` → `HTTP_USER_AGENT`; `Content-Type`/`Content-Length` keep their CGI names;
 * a name with `_` maps to null and is dropped, because `X_Forwarded_For` would otherwise land
 * on the same key as `X-Forwarded-For` and let a client forge it.
 */
export function environKeyOf(headerName: string): string | null {
  if (headerName.includes("_")) return null;
  const upper = headerName.toUpperCase().replaceAll("-", "_");
  if (upper === "CONTENT_TYPE" || upper === "CONTENT_LENGTH") return upper;
  return "HTTP_" + upper;
}

const HEX = /%([0-9A-Fa-f]{2})/g;

/**
 * Percent-decodes a path into a native string: `%C3%A9` becomes two code units, 0xC3 0xA9 — the
 * bytes, as Latin-1 — never `é`. (decodeURIComponent would decode UTF-8 and throw on `%FF`.)
 * Apps that want text decode it themselves: `Buffer.from(PATH_INFO, "latin1").toString()`.
 */
export function unquoteToNative(path: string): string {
  if (!path.includes("%")) return path;
  return path.replace(HEX, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
