/** The gateway's name and version: its `SERVER_SOFTWARE`, and (the name alone) its `Server` header. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageVersion(): string {
  // Walk up from this file (gateway/ in the sources, gateway/dist/ when built) to package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string })
    .version;
}

export const VERSION = packageVersion();
/**
 * What the gateway's `Server` header says: its name, not its version (as Gunicorn and nginx with
 * `server_tokens off`). The version helps nobody but someone choosing which known bug to try; the
 * name still tells an operator which hop answered. The app sees the version in SERVER_SOFTWARE.
 */
export const SERVER_HEADER = "foobar-gateway";
export const SOFTWARE = `${SERVER_HEADER}/${VERSION}`;
