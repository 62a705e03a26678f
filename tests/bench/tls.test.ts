// The bench's encrypted tier (issue #24), its pure parts: h2load's report parsed right, the
// target rows of both nginx tiers, and the nginx contestants serving HTTPS when asked.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { contestants } from "../../bench/contestants.js";
import { parseH2loadOutput } from "../../bench/h2load.js";
import {
  nginxTierCheck,
  targetMet,
  targetsTable,
  type ContestantResult,
} from "../../bench/report.js";
import {
  encryptedTierCheck,
  TLS_TIER_LIMIT,
  type PairedMeasure,
} from "../../bench/sections-report.js";

// What h2load 1.52 (Debian bookworm's nghttp2-client) printed here against nginx over TLS.
const H2LOAD_OUTPUT = `starting benchmark...
spawning thread #0: 50 total client(s). Timing-based test with 1s of warm-up time and 5s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
progress: 100% of clients started
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 6.03s, 12023.40 req/s, 939.30KB/s
requests: 60117 total, 60117 started, 60117 done, 60117 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 60117 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.83MB (1923680) total, 1.70MB (1784139) headers (space savings 50.51%), 462.25KB (473343) data
                     min         max         mean         sd        +/- sd
time for request:       87us     80.55ms      4.12ms      2.69ms    98.76%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :     228.85     258.40     240.42       4.70    70.00%
`;

describe("h2load output", () => {
  it("reads throughput, requests done, latency and what TLS negotiated", () => {
    expect(parseH2loadOutput(H2LOAD_OUTPUT)).toEqual({
      requestsPerSecond: 12023.4,
      requests: 60117,
      errors: 0,
      meanMs: 4.12,
      maxMs: 80.55,
      tls: { protocol: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", applicationProtocol: "h2" },
    });
  });

  it("counts every request that did not end in a 2xx: failed ones and redirects", () => {
    const failing = H2LOAD_OUTPUT.replace(
      "60117 succeeded, 0 failed, 0 errored, 0 timeout",
      "60100 succeeded, 17 failed, 5 errored, 2 timeout",
    ).replace("60117 2xx, 0 3xx, 0 4xx, 0 5xx", "60097 2xx, 3 3xx, 0 4xx, 12 5xx");
    // failed (17) already holds the errored (5, of which 2 timed out) and the 5xx (12).
    expect(parseH2loadOutput(failing).errors).toBe(20);
  });

  it("says when the connections were not encrypted", () => {
    const cleartext = H2LOAD_OUTPUT.replace(/^(TLS Protocol|Cipher|Server Temp Key):.*\n/gm, "");
    expect(parseH2loadOutput(cleartext).tls).toBeUndefined();
  });

  it("fails loudly when a figure it needs is missing", () => {
    expect(() => parseH2loadOutput("No protocol negotiated. Aborted.")).toThrow(/req\/s/);
    expect(() => parseH2loadOutput(H2LOAD_OUTPUT.replace(/^requests:.*\n/m, ""))).toThrow(
      /request counts/,
    );
    expect(() => parseH2loadOutput(H2LOAD_OUTPUT.replace(/^time for request:.*\n/m, ""))).toThrow(
      /time for request/,
    );
  });
});

function tlsMeasure(foobar: number[], node: number[], errors: [number, number] = [0, 0]) {
  return {
    name: "hello over TLSv1.3 and h2 through nginx, req/s",
    foobarWay: "nginx 2w → foobar 2w",
    nodeWay: "nginx 2w (pool 4096) → node:http cluster 2w",
    unit: "req/s",
    comparison: ">=",
    limit: TLS_TIER_LIMIT,
    foobar: foobar.map((value, i) => ({ round: i + 1, value, errors: i === 0 ? errors[0] : 0 })),
    node: node.map((value, i) => ({ round: i + 1, value, errors: i === 0 ? errors[1] : 0 })),
  } satisfies PairedMeasure;
}

describe("the encrypted tier's target row", () => {
  it("holds the median of per-round ratios against 0.95×", () => {
    const met = encryptedTierCheck([tlsMeasure([9600, 19000, 5000], [10000, 20000, 10000])], 2);
    expect(met.value).toBeCloseTo(0.95);
    expect(met.limit).toBe(0.95);
    expect(met.name).toBe("nginx → foobar 2w / nginx → node cluster 2w, over TLS + HTTP/2, req/s");
    expect(targetMet(met)).toBe(true);
    const missed = encryptedTierCheck([tlsMeasure([9000, 9200, 9400], [10000, 10000, 10000])], 2);
    expect(missed.value).toBeCloseTo(0.92);
    expect(targetMet(missed)).toBe(false);
  });

  it("misses when foobar's side failed a request, and says how many, whatever the ratio", () => {
    const check = encryptedTierCheck([tlsMeasure([12000, 12000], [10000, 10000], [3, 0])], 2);
    expect(targetMet(check)).toBe(false);
    expect(check.name).toContain("(foobar: 3 failed requests)");
    expect(targetsTable([check])).toMatch(
      /foobar: 3 failed requests\) \| +0\.00× \| ≥ 0\.95× \| MISSED/,
    );
  });

  it("is unmeasured when the cluster's side failed, the tier could not run, or was not run", () => {
    const nodeFailed = encryptedTierCheck([tlsMeasure([10000], [10000], [0, 1])], 2);
    expect(targetMet(nodeFailed)).toBeUndefined();
    expect(nodeFailed.unmeasured).toMatch(/1 failed/);
    const noNginx = { ...tlsMeasure([], []), unmeasured: "nginx is not installed" };
    expect(encryptedTierCheck([noNginx], 2).unmeasured).toBe("nginx is not installed");
    const notRun = encryptedTierCheck([], 2);
    expect(notRun.unmeasured).toBe("section not run");
    expect(targetsTable([notRun])).toMatch(/–× \| ≥ 0\.95× \| not measured \(section not run\)/);
  });

  it("sits beside the plain-HTTP tier's row, measured by wrk in the hello rounds", () => {
    const ran = (id: string, rps: number[]): ContestantResult => ({
      id,
      label: id,
      workers: 2,
      samples: rps.map((requestsPerSecond, i) => ({
        round: i + 1,
        load: { requestsPerSecond, p50: 1, p99: 4, requests: requestsPerSecond * 5, errors: 0 },
        idleRssKiB: 1,
        loadedRssKiB: 1,
        idleWorkerRssKiB: [1],
        cpuMicrosPerRequest: 40,
      })),
    });
    const plain = nginxTierCheck(
      [ran("nginx-foobar-2", [38000, 36000]), ran("nginx-node-cluster-2", [40000, 40000])],
      2,
    );
    expect(plain.value).toBeCloseTo(0.925);
    expect(targetMet(plain)).toBe(false);
    expect(nginxTierCheck([ran("nginx-node-cluster-2", [40000])], 2).unmeasured).toBe(
      "nginx-foobar-2 did not run",
    );
  });
});

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("the nginx contestants over TLS", () => {
  const scratches: string[] = [];
  afterEach(() => {
    for (const dir of scratches.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const nginxConf = (id: string, tls?: { port: number; certificate: string; key: string }) => {
    const scratch = mkdtempSync(join(tmpdir(), "foobar-bench-test-"));
    scratches.push(scratch);
    const contestant = contestants(2, { root: ROOT, tls }).find((c) => c.id === id)!;
    const dir = join(scratch, id);
    contestant.commands(8080, dir, 9090);
    return readFileSync(join(dir, "nginx.conf"), "utf8");
  };

  it("serve the project's HTTPS listener with HTTP/2 and the given certificate when asked", () => {
    const tls = { port: 8443, certificate: "/tmp/c/tls.crt", key: "/tmp/c/tls.key" };
    for (const id of ["nginx-foobar-2", "nginx-node-cluster-2"]) {
      const conf = nginxConf(id, tls);
      expect(conf).toMatch(/^\s*listen 127\.0\.0\.1:8443 ssl http2 default_server;$/m);
      expect(conf).toMatch(/^\s*ssl_certificate \/tmp\/c\/tls\.crt;$/m);
      expect(conf).toMatch(/^\s*ssl_certificate_key \/tmp\/c\/tls\.key;$/m);
      expect(conf).toMatch(/^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m); // the shipped settings
      expect(conf).toMatch(/^\s*listen 127\.0\.0\.1:8080 default_server;$/m);
      expect(conf).toContain("server 127.0.0.1:9090 max_fails=0;");
    }
  });

  it("serve plain HTTP only otherwise, as the plain nginx tier always did", () => {
    const conf = nginxConf("nginx-foobar-2");
    expect(conf).not.toMatch(/^\s*(listen [^;]* ssl|ssl_certificate)/m);
    expect(conf).toMatch(/^\s*listen 127\.0\.0\.1:8080 default_server;$/m);
  });
});
