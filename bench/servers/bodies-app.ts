/**
 * The TSGI app of the body and upload routes of `bodies.ts`, served by foobar
 * (`gateway -w 1 dist/bench/servers/bodies-app.js`): an array body, an async-iterable body,
 * `tsgi.file_wrapper` over a file, and an upload read through `tsgi.input`.
 */
import { closeSync, openSync, read } from "node:fs";
import type { Application, FileLike } from "@foobar/tsgi";
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

/**
 * A file as `tsgi.file_wrapper` takes it: `read(size)` and `close()`, over `fs.read` with a
 * callback. (`fs/promises`' FileHandle.read costs ~10 µs more per 64 KiB block — measured
 * in-process: 1,400–1,500 against 1,270–1,285 µs of CPU per 1 MiB response — so the bench would
 * measure the app's choice of file API rather than the wrapper.)
 */
function openFile(path: string): FileLike {
  const fd = openSync(path, "r");
  return {
    read: (size) =>
      new Promise((resolve, reject) => {
        const buffer = Buffer.allocUnsafe(size);
        read(fd, buffer, 0, size, null, (error, bytesRead) =>
          error === null ? resolve(buffer.subarray(0, bytesRead)) : reject(error),
        );
      }),
    close: () => closeSync(fd),
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
  const file = openFile(bodyFile(dir, route.size));
  startResponse("200 OK", [OCTETS, ["Content-Length", String(BODY_SIZES[route.size])]]);
  return environ["tsgi.file_wrapper"]!(file, 64 * 1024);
};

export default bodiesApp;
