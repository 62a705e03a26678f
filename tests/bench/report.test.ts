// The bench's own pure parts: wrk's report parsed right, medians, target verdicts, the tables and
// the chart. A broken parser would otherwise only show up as a failed `npm run bench`.
import { describe, expect, it } from "vitest";
import {
  barChartSvg,
  checkFetchTargets,
  checkTargets,
  fetchAlternativeRatios,
  markdownTable,
  median,
  pairedRatio,
  resultsTable,
  splitRatios,
  splitTable,
  summarize,
  targetMet,
  targetsTable,
  type ContestantResult,
  type RoundSample,
  type Summary,
} from "../../bench/report.js";
import { nginxConfig, nginxMinimalProxy, nginxReturnServer } from "../../bench/contestants.js";
import { parseDuration, parseWrkOutput } from "../../bench/wrk.js";

const WRK_OUTPUT = `Running 5s test @ http://127.0.0.1:32809/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.56ms    3.43ms  47.59ms   95.86%
    Req/Sec    52.45k    22.24k   68.77k    80.00%
  Latency Distribution
     50%  731.00us
     75%    1.00ms
     90%    2.59ms
     99%   21.83ms
  260485 requests in 5.00s, 44.70MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 10
Requests/sec:  52097.15
Transfer/sec:      8.92MB
`;

describe("wrk output", () => {
  it("reads throughput, percentiles, request count and every kind of error", () => {
    expect(parseWrkOutput(WRK_OUTPUT)).toEqual({
      requestsPerSecond: 52097.15,
      p50: 0.731,
      p99: 21.83,
      requests: 260485,
      errors: 20,
    });
  });

  it("counts no errors when wrk reports none", () => {
    const clean = WRK_OUTPUT.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, "");
    expect(parseWrkOutput(clean).errors).toBe(0);
  });

  it("fails loudly when wrk printed no latency distribution", () => {
    expect(() => parseWrkOutput(WRK_OUTPUT.replace(/ {5}99%.*\n/, ""))).toThrow(/99% latency/);
    expect(() => parseWrkOutput("unable to connect to 127.0.0.1:1")).toThrow(/Requests\/sec/);
  });

  it("converts every unit wrk prints to milliseconds", () => {
    expect(parseDuration("250.00us")).toBeCloseTo(0.25);
    expect(parseDuration("3.5ms")).toBe(3.5);
    expect(parseDuration("1.20s")).toBe(1200);
    expect(parseDuration("1.00m")).toBe(60_000);
    expect(() => parseDuration("fast")).toThrow(/duration/);
  });
});

const load = (rps: number, p99: number, errors = 0) => ({
  requestsPerSecond: rps,
  p50: p99 / 4,
  p99,
  requests: rps * 5,
  errors,
});

function result(
  id: string,
  workers: number,
  rps: number[],
  p99 = 4,
  rss = 50_000,
): ContestantResult {
  return {
    id,
    label: id,
    workers,
    samples: rps.map((r, i) => ({
      round: i + 1,
      load: load(r, p99, 1),
      idleRssKiB: rss * (workers > 1 ? workers + 1 : 1),
      loadedRssKiB: rss * 2,
      idleWorkerRssKiB: Array.from({ length: workers }, () => rss),
      cpuMicrosPerRequest: 20,
    })),
  };
}

describe("summaries", () => {
  it("takes medians of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("summarizes rounds: median req/s, summed errors, per-worker RSS", () => {
    const summary = summarize(result("foobar-2", 2, [100, 300, 200], 4, 60_000));
    expect(summary).toMatchObject({ rounds: 3, rps: 200, p99: 4, errors: 3 });
    expect(summary.idleRssPerWorkerKiB).toBe(60_000);
    expect(summary.idleRssKiB).toBe(180_000);
  });
});

function results(foobar2: number, foobarP99: number, nginxFoobar2 = 980): ContestantResult[] {
  return [
    result("node-http", 1, [1000], 4, 50_000),
    result("node-cluster-2", 2, [2000], 4),
    result("fastify-1", 1, [800]),
    result("fastify-2", 2, [1500]),
    result("foobar-1", 1, [950]),
    result("foobar-2", 2, [foobar2], foobarP99, 55_000),
    result("gunicorn-sync-2", 2, [600]),
    result("nginx-foobar-2", 2, [nginxFoobar2]),
    result("nginx-node-cluster-2", 2, [1000]),
  ];
}

const summaries = (foobar2: number, foobarP99: number): Summary[] =>
  results(foobar2, foobarP99).map(summarize);

describe("targets", () => {
  it("pairs rounds: the median of per-round ratios, rounds missing on one side left out", () => {
    const a = result("a", 1, [100, 300, 999]);
    const b = result("b", 1, [50, 400]);
    const rps = (s: RoundSample) => s.load.requestsPerSecond;
    expect(pairedRatio(a, b, rps)).toBeCloseTo((2 + 0.75) / 2);
    expect(pairedRatio(a, result("c", 1, []), rps)).toBeNaN();
  });

  it("computes each ratio of issue #6 and its verdict", () => {
    const checks = checkTargets(results(1900, 4.4), 2, 300);
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["foobar 2w / node cluster 2w, req/s"]!.value).toBeCloseTo(0.95);
    expect(byName["foobar 2w / node cluster 2w, p99"]!.value).toBeCloseTo(1.1);
    expect(byName["foobar 2w / Gunicorn sync 2w, req/s"]!.value).toBeCloseTo(1900 / 600);
    expect(byName["foobar 2w idle RSS per worker / bare node:http process"]!.value).toBeCloseTo(
      1.1,
    );
    expect(byName["nginx → foobar 2w / nginx → node cluster 2w, req/s"]!.value).toBeCloseTo(0.98);
    expect(checks.map(targetMet)).toEqual([true, true, true, true, true, true, true, true]);
  });

  it("reports a target missed as missed", () => {
    const checks = checkTargets(results(1700, 6, 900), 2, 700);
    expect(checks.map(targetMet)).toEqual([false, false, true, true, false, false, true, false]);
    expect(targetsTable(checks)).toContain("MISSED");
  });

  it("marks a target unmeasured when a contestant it needs was skipped", () => {
    const list = results(1900, 4);
    const gunicornResult = list.find((s) => s.id === "gunicorn-sync-2")!;
    gunicornResult.skipped = "gunicorn is not installed";
    gunicornResult.samples = [];
    const checks = checkTargets(list, 2, undefined);
    const gunicorn = checks.find((c) => c.name.includes("Gunicorn"))!;
    expect(targetMet(gunicorn)).toBeUndefined();
    expect(gunicorn.unmeasured).toMatch(/gunicorn-sync-2/);
    expect(targetsTable(checks)).toContain("not measured");
  });
});

describe("split ratios", () => {
  it("splits foobar's distance into the contract's and the gateway's, the tier's into pool and backend", () => {
    const list = [
      ...results(1900, 4),
      result("tsgi-floor-1", 1, [960, 1000]),
      result("nginx-foobar-pool-2", 2, [1000]),
    ];
    // node-http ran one round: the floor's second round has no partner and is left out.
    const [floor, gateway, pool, backend] = splitRatios(list, 2).map((s) => s.value);
    expect(floor).toBeCloseTo(0.96);
    expect(gateway).toBeCloseTo(950 / 960);
    expect(pool).toBeCloseTo(0.98);
    expect(backend).toBeCloseTo(1);
  });

  it("shows a ratio whose contestant did not run as unmeasured, not as a number", () => {
    const splits = splitRatios(results(1900, 4), 2);
    expect(splits[0]!.value).toBeNaN();
    expect(splitTable(splits)).toMatch(/TSGI floor 1w \/ node:http 1 process +\| not measured \|/);
  });
});

describe("the fetch bridge's targets (issue #27)", () => {
  const list = [
    result("hono-node", 1, [1000, 1000], 4),
    result("hono-foobar-1", 1, [950, 870], 5),
    result("hono-foobar-eager-1", 1, [200, 250]),
    result("foobar-1", 1, [1000, 1000]),
    result("express-node", 1, [100, 100]),
    result("express-foobar-1", 1, [110, 90]),
  ];

  it("pairs fromFetch with the native server for req/s and p99, Express with Express", () => {
    const [rps, p99, toFetch, express] = checkFetchTargets(list, 2);
    expect(rps!.value).toBeCloseTo(0.91);
    expect(targetMet(rps!)).toBe(true);
    expect(p99!.value).toBeCloseTo(1.25);
    expect(targetMet(p99!)).toBe(false);
    expect(toFetch!.unmeasured).toBe("hello-tofetch-hono-node did not run");
    expect(express!.value).toBeCloseTo(1);
  });

  it("gives each alternative's ratio to the native server, unmeasured when it did not run", () => {
    const [adopted, eager, listener] = fetchAlternativeRatios(list).map((s) => s.value);
    expect(adopted).toBeCloseTo(0.91);
    expect(eager).toBeCloseTo(0.225);
    expect(listener).toBeNaN();
  });
});

describe("tables and chart", () => {
  it("pads Markdown columns and right-aligns numbers", () => {
    expect(markdownTable(["a", "num"], [["xyz", "1"]], [false, true])).toBe(
      "| a   | num |\n|-----|----:|\n| xyz |   1 |",
    );
  });

  it("shows req/s relative to raw node:http at equal workers, and skipped contestants", () => {
    const list = summaries(1900, 4);
    list.push({ ...summarize(result("nginx-return-2", 2, [])), skipped: "nginx is not installed" });
    const table = resultsTable(list, 2);
    expect(table).toMatch(/\| foobar-2 +\| +2 \| +1900 \| +0\.95 \|/);
    expect(table).toMatch(/\| foobar-1 +\| +1 \| +950 \| +0\.95 \|/);
    expect(table).toMatch(/\| 1\.9k +\|$/m);
    expect(table).toMatch(/\| nginx-return-2 +\| +2 \| +skipped \|/);
    expect(table).toContain("- skipped: nginx-return-2 — nginx is not installed");
  });

  it("draws one bar per contestant that ran, the longest for the fastest", () => {
    const svg = barChartSvg(summaries(1900, 4), "req/s <hello>");
    expect(svg.match(/<rect x=/g)).toHaveLength(9);
    expect(svg).toContain('width="420"'); // node-cluster-2, the fastest
    expect(svg).toContain("req/s &lt;hello&gt;");
    expect(svg).toContain(">1900 · p99 4.0 ms<");
  });

  it("wraps a server block in a foreground nginx with its files in the scratch directory", () => {
    const conf = nginxConfig(2, "/tmp/x", nginxReturnServer(8080));
    expect(conf).toContain("worker_processes 2;");
    expect(conf).toContain("pid /tmp/x/nginx.pid;");
    expect(conf).toContain('return 200 "Hello, World!";');
    expect(nginxMinimalProxy(8080, 9090)).toContain('proxy_set_header Connection "";');
  });
});
