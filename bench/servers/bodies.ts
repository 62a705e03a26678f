/**
 * What the body, upload and idle-connection sections of the bench serve, shared by the two
 * servers that serve it — raw `node:http` (`bodies-node.ts`) and a TSGI app under foobar
 * (`bodies-app.ts`) — so both answer the same URLs with the same bytes:
 *
 *   GET  /                  the 13-byte hello (what the bench checks before measuring)
 *   GET  /array/SIZE        the body in memory: foobar `[bytes]`, node `res.end(bytes)`
 *   GET  /iter/SIZE         64 KiB chunks from an async generator: foobar returns it, node
 *                           pipes `Readable.from()` of it
 *   GET  /file/SIZE         a file of SIZE bytes: foobar `tsgi.file_wrapper`, node
 *                           `fs.createReadStream().pipe(res)`
 *   POST /upload            reads the whole request body and answers with its length: foobar
 *                           through `tsgi.input`, node from `req`'s data events
 *
 * SIZE is one of BODY_SIZES' names. The files live in the directory named by the environment
 * variable BENCH_BODY_DIR, written by the bench before the servers start (`writeBodyFiles`).
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const BODY_SIZES = {
  "64k": 64 * 1024,
  "1m": 1024 * 1024,
  "10m": 10 * 1024 * 1024,
} as const;
export type BodySize = keyof typeof BODY_SIZES;
export const BODY_KINDS = ["array", "iter", "file"] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

/** The block both servers stream in: Node's own default for file streams. */
export const CHUNK_SIZE = 64 * 1024;
export const BODY_DIR_ENV = "BENCH_BODY_DIR";

/** SIZE bytes of a repeating pattern (not all zeros, not compressible to nothing by accident). */
export function bodyBytes(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

export function bodyFile(dir: string, size: BodySize): string {
  return join(dir, `body-${size}.bin`);
}

/** Writes the files `/file/SIZE` serves (once; they are the same bytes as `bodyBytes`). */
export function writeBodyFiles(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, size] of Object.entries(BODY_SIZES)) {
    const path = bodyFile(dir, name as BodySize);
    if (!existsSync(path) || statSync(path).size !== size) writeFileSync(path, bodyBytes(size));
  }
}

/** The in-memory bodies, built once per server process. */
export function bodiesInMemory(): Map<string, Buffer> {
  return new Map(Object.entries(BODY_SIZES).map(([name, size]) => [name, bodyBytes(size)]));
}

/** `body` in CHUNK_SIZE views (no copies), one per step of an async generator. */
export async function* chunksOf(body: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < body.length; at += CHUNK_SIZE)
    yield body.subarray(at, Math.min(at + CHUNK_SIZE, body.length));
}

/** `/kind/size` → its parts, or undefined for any other path. */
export function parseBodyPath(path: string): { kind: BodyKind; size: BodySize } | undefined {
  const match = /^\/(array|iter|file)\/(64k|1m|10m)$/.exec(path);
  return match === null ? undefined : { kind: match[1] as BodyKind, size: match[2] as BodySize };
}

export function bodyDirFromEnv(): string {
  const dir = process.env[BODY_DIR_ENV];
  if (dir === undefined || dir === "") {
    process.stderr.write(`bodies: set ${BODY_DIR_ENV} to the directory of the body files\n`);
    process.exit(2);
  }
  return dir;
}
