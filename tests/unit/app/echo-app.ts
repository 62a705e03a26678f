/** A test app that answers with where it thinks it is mounted: `SCRIPT_NAME|PATH_INFO`. */
import type { Application } from "../../../tsgi/types.js";

export function whereAmI(name: string): Application {
  return (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [new TextEncoder().encode(`${name} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}`)];
  };
}
