/**
 * Header names are case-insensitive (RFC 9110 §5.1): `Content-Length`, `content-length` and
 * `CONTENT-LENGTH` are one header. These two helpers are the one way this code base compares
 * a name or looks one up in a TSGI header list — the server, the test client and the apps.
 */
import type { HeaderList } from "./types.js";

/**
 * True if `name` is the header `lowerName` (given in lower case), in any spelling. Names of
 * another length are told apart without building a lower-cased copy: this runs for every
 * header of every response.
 */
export function isHeaderNamed(name: string, lowerName: string): boolean {
  return name.length === lowerName.length && name.toLowerCase() === lowerName;
}

/**
 * The value of header `name` (any case) in `headers`, or undefined. Repeats are joined with
 * `, `, which is what a repeated field means in HTTP (RFC 9110 §5.3).
 */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  const lowerName = name.toLowerCase();
  let value: string | undefined;
  for (const [key, each] of headers)
    if (isHeaderNamed(key, lowerName)) value = value === undefined ? each : `${value}, ${each}`;
  return value;
}
