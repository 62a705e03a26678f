/** The gateway's name and version, sent as `Server` and set as `SERVER_SOFTWARE`. */
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
export const SOFTWARE = `foobar-gateway/${VERSION}`;
