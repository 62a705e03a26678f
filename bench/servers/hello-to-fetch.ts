/**
 * Contestant: foobar's TSGI hello app served by `@hono/node-server` through `toFetch` — the
 * other direction of the fetch bridge (issue #27 item 2: at least 0.9× of the same app on
 * foobar -w 1).
 *
 *   node dist/bench/servers/hello-to-fetch.js PORT
 */
import { serve } from "@hono/node-server";
import { toFetch } from "@foobar/app/fetch-adapter";
import { hello } from "@foobar/app/hello";
import { serveFromArgs } from "./args.js";

await serveFromArgs(process.argv.slice(2), (port) => {
  serve({ fetch: toFetch(hello), port, hostname: "127.0.0.1" });
});
