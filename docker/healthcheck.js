// The image's HEALTHCHECK: healthy when the gateway answers HTTP on $PORT with anything below
// 500 (any TSGI app may 404 on "/"; a 5xx or no answer means it cannot serve).
// $HEALTHCHECK_URL overrides the URL, e.g. for an app mounted under a root path.
import { get } from "node:http";

const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${process.env.PORT ?? "8000"}/`;
const request = get(url, { timeout: 2500 }, (response) => {
  response.resume();
  process.exit((response.statusCode ?? 500) < 500 ? 0 : 1);
});
request.on("timeout", () => request.destroy(new Error("timed out")));
request.on("error", (error) => {
  console.error(`healthcheck: ${url}: ${error.message}`);
  process.exit(1);
});
