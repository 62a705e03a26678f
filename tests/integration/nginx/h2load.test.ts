/**
 * The bench's encrypted tier against the real programs: Debian's h2load over TLS and HTTP/2 to
 * the project's nginx config (tests/helpers/nginx.ts, its HTTPS listener on). The parser's unit
 * tests (tests/bench/tls.test.ts) read a report this h2load printed once; these check that the
 * h2load installed here still prints one it reads, that failures are counted, and that a run with
 * no TLS connection is refused rather than read as 0 req/s without a failure.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { runH2load } from "../../../bench/h2load.js";
import { freePort } from "../../helpers/net.js";
import { nginxProblem, startNginx, type RunningNginx } from "../../helpers/nginx.js";
import { shouldRun } from "../../helpers/skips.js";

function h2loadProblem(): string | null {
  if (spawnSync("h2load", ["--version"]).error !== undefined)
    return "no h2load (apt-get install nghttp2-client)";
  return nginxProblem();
}

describe.runIf(shouldRun("h2load against nginx over TLS", h2loadProblem()))(
  "h2load against nginx over TLS",
  () => {
    const proxies: RunningNginx[] = [];
    afterAll(() => Promise.all(proxies.map((proxy) => proxy.stop())));

    /** nginx over TLS with no gateway behind it (the upstream's port is closed). */
    async function tlsNginx(): Promise<number> {
      const tlsPort = await freePort();
      proxies.push(await startNginx({ upstreamPort: await freePort(), tlsPort }));
      return tlsPort;
    }
    const load = (url: string) => runH2load({ url, connections: 2, streams: 1, seconds: 1 });

    it("reads a run over TLS with HTTP/2: requests done, none failed, what was negotiated", async () => {
      const port = await tlsNginx();
      // nginx answers /nginx-health itself, from the shipped config.
      const result = await load(`https://127.0.0.1:${port}/nginx-health`);
      expect(result.requests).toBeGreaterThan(0);
      expect(result.requestsPerSecond).toBeGreaterThan(0);
      expect(result.errors).toBe(0);
      expect(result.meanMs).toBeGreaterThan(0);
      expect(result.maxMs).toBeGreaterThanOrEqual(result.meanMs);
      expect(result.tls).toEqual({
        protocol: expect.stringMatching(/^TLSv1\.[23]$/),
        cipher: expect.any(String),
        applicationProtocol: "h2",
      });
    });

    it("counts every answer that is not a 2xx as failed", async () => {
      const port = await tlsNginx();
      // No gateway behind nginx: every request to the app is nginx's 502.
      const result = await load(`https://127.0.0.1:${port}/`);
      expect(result.requests).toBeGreaterThan(0);
      expect(result.errors).toBe(result.requests);
    });

    it("refuses a run in which no TLS connection came up", async () => {
      const closed = await freePort();
      await expect(load(`https://127.0.0.1:${closed}/`)).rejects.toThrow(
        /no TLS connection came up/,
      );
    });
  },
);
