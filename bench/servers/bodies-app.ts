/**
 * The TSGI app of the body and upload routes of `bodies.ts`, served by foobar
 * (`gateway -w 1 dist/bench/servers/bodies-app.js`): an array body, an async-iterable body,
 * `tsgi.file_wrapper` over a file, and an upload read through `tsgi.input`.
 */
import { open } from "node:fs/promises";
import type { Application, FileLike } from "../../tsgi/types.js";
import {
  BODY_SIZES,
  bodiesInMemory,
  bodyDirFromEnv,
  bodyFile,
  chunksOf,
  parseBodyPath,
} from "./bodies.js";

const HELLO = new TextEncoder().encode("Hello, World!");
const OCTETS: [string, string] = ["Content-Type", "application/octet-stream"];
const dir = bodyDirFromEnv();
const bodies = bodiesInMemory();

/** A file as `tsgi.file_wrapper` takes it: `read(size)` and `close()`. */
async function openFile(path: string): Promise<FileLike> {
  const handle = await open(path);
  return {
    async read(size) {
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, null);
      return buffer.subarray(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

export const bodiesApp: Application = async (environ, startResponse) => {
  if (environ.REQUEST_METHOD === "POST" && environ.PATH_INFO === "/upload") {
    let received = 0;
    for await (const chunk of environ["tsgi.input"]) received += chunk.length;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode(String(received))];
  }
  const route = parseBodyPath(environ.PATH_INFO);
  if (route === undefined) {
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [HELLO];
  }
  const body = bodies.get(route.size)!;
  if (route.kind === "array") {
    startResponse("200 OK", [OCTETS]);
    return [body];
  }
  if (route.kind === "iter") {
    startResponse("200 OK", [OCTETS]);
    return chunksOf(body);
  }
  const file = await openFile(bodyFile(dir, route.size));
  startResponse("200 OK", [OCTETS, ["Content-Length", String(BODY_SIZES[route.size])]]);
  return environ["tsgi.file_wrapper"]!(file, 64 * 1024);
};

export default bodiesApp;
