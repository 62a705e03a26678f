// The bench's sections beyond hello, their pure parts: paired ratios and verdicts (errors
// included), the worst-of target rows, the section tables, issue #14's hello targets, wrk's POST
// script, and the routes both body servers share.
import { describe, expect, it } from "vitest";
import { checkSecondRoundTargets, targetMet, type ContestantResult } from "../../bench/report.js";
import {
  measureCheck,
  measureRatio,
  sectionTable,
  worstCheck,
  type PairedMeasure,
} from "../../bench/sections-report.js";
import { bodyBytes, chunksOf, parseBodyPath } from "../../bench/servers/bodies.js";
import { postScript } from "../../bench/wrk.js";

function measure(
  foobar: number[],
  node: number[],
  extra: Partial<PairedMeasure> = {},
): PairedMeasure {
  return {
    name: "1 MiB response, array body",
    foobarWay: "[bytes]",
    nodeWay: "res.end(bytes)",
    unit: "MiB/s",
    comparison: ">=",
    limit: 0.9,
    foobar: foobar.map((value, i) => ({ round: i + 1, value })),
    node: node.map((value, i) => ({ round: i + 1, value })),
    ...extra,
  };
}

describe("paired measures", () => {
  it("takes the median of per-round ratios, leaving out rounds one side lacks", () => {
    expect(measureRatio(measure([900, 1000, 500], [1000, 1000, 1000]))).toBeCloseTo(0.9);
    expect(measureRatio(measure([800, 1200, 999], [1000, 1000]))).toBeCloseTo(1.0);
  });

  it("gives a verdict against the limit in the measure's direction", () => {
    expect(targetMet(measureCheck(measure([950], [1000])))).toBe(true);
    expect(targetMet(measureCheck(measure([850], [1000])))).toBe(false);
    const latency = measure([13], [10], { comparison: "<=", limit: 1.2 });
    expect(targetMet(measureCheck(latency))).toBe(false);
    expect(targetMet(measureCheck({ ...latency, foobar: [{ round: 1, value: 11 }] }))).toBe(true);
  });

  it("misses a target when foobar failed requests, whatever the ratio", () => {
    const failed = measure([2000], [1000]);
    failed.foobar[0] = { round: 1, value: 2000, errors: 3 };
    const check = measureCheck(failed);
    expect(targetMet(check)).toBe(false);
    expect(check.name).toContain("foobar: 3 failed requests");
  });

  it("leaves a target unmeasured when node's side failed or did not run", () => {
    const failed = measure([1000], [1000]);
    failed.node[0] = { round: 1, value: 1000, errors: 1 };
    expect(targetMet(measureCheck(failed))).toBeUndefined();
    expect(measureCheck(failed).unmeasured).toMatch(/node:http: 1 failed/);
    const skipped = measure([], [], { unmeasured: "node failed: boom" });
    expect(targetMet(measureCheck(skipped))).toBeUndefined();
  });

  it("sums up a section by its worst measure", () => {
    const atLeast = { comparison: ">=", limit: 0.9 } as const;
    const worst = worstCheck("bodies", [measure([950], [1000]), measure([700], [1000])], atLeast);
    expect(worst.value).toBeCloseTo(0.7);
    expect(targetMet(worst)).toBe(false);
    const latency = (f: number) => measure([f], [10], { comparison: "<=", limit: 1.2 });
    const atMost = { comparison: "<=", limit: 1.2 } as const;
    expect(worstCheck("p99", [latency(9), latency(11)], atMost).value).toBeCloseTo(1.1);
    const partial = worstCheck(
      "x",
      [measure([1], [1]), measure([], [], { unmeasured: "why" })],
      atLeast,
    );
    expect(partial.unmeasured).toBe("why");
  });

  it("says a section that did not run is unmeasured, with its goal", () => {
    const none = worstCheck("idle", [], { comparison: "<=", limit: 1.2 });
    expect(none).toMatchObject({ unmeasured: "section not run", comparison: "<=", limit: 1.2 });
    expect(targetMet(none)).toBeUndefined();
  });

  it("tables both sides' medians, the ratio, the verdict and the extra figure", () => {
    const row = measure([900, 1000, 1100], [1000, 1000, 1000], { extraUnit: "CPU ms/GiB" });
    row.foobar.forEach((v) => (v.extra = 300));
    row.node.forEach((v) => (v.extra = 250));
    const table = sectionTable([row, measure([500], [1000])]);
    const [, , first, second] = table.split("\n");
    expect(first!.split("|").map((cell) => cell.trim())).toEqual([
      "",
      "1 MiB response, array body",
      "[bytes] / res.end(bytes)",
      "MiB/s",
      "1000",
      "1000",
      "1.00×",
      "≥ 0.9×",
      "met",
      "300 / 250 CPU ms/GiB",
      "",
    ]);
    expect(second).toContain("| 0.50× |");
    expect(table).toContain("MISSED");
    expect(table.split("\n")[0]).toContain("also measured");
  });
});

function contestant(id: string, rps: number[], p99 = 4): ContestantResult {
  return {
    id,
    label: id,
    workers: 1,
    samples: rps.map((r, i) => ({
      round: i + 1,
      load: { requestsPerSecond: r, p50: 1, p99, requests: r * 5, errors: 0 },
      idleRssKiB: 1,
      loadedRssKiB: 1,
      idleWorkerRssKiB: [1],
      cpuMicrosPerRequest: 20,
    })),
  };
}

describe("issue #14's hello targets", () => {
  it("compares foobar with raw node:http, Fastify and the cluster at their own limits", () => {
    const checks = checkSecondRoundTargets(
      [
        contestant("node-http", [1000]),
        contestant("fastify-1", [900]),
        contestant("foobar-1", [960]),
        contestant("node-cluster-2", [2000], 4),
        contestant("fastify-2", [1900]),
        contestant("foobar-2", [2000], 4.2),
      ],
      2,
    );
    expect(checks.map((c) => c.name)).toEqual([
      "foobar 1w / node:http 1 process, req/s",
      "foobar 1w / Fastify 1w, req/s",
      "foobar 2w / Fastify 2w, req/s",
      "foobar 2w / node cluster 2w, req/s",
      "foobar 2w / node cluster 2w, p99",
    ]);
    expect(checks.map((c) => c.value)).toEqual([0.96, 960 / 900, 2000 / 1900, 1, 1.05]);
    expect(checks.map(targetMet)).toEqual([true, true, true, true, false]);
  });

  it("says which contestant is missing", () => {
    const [first] = checkSecondRoundTargets([contestant("foobar-1", [1])], 2);
    expect(first!.unmeasured).toBe("node-http did not run");
  });
});

describe("what the section servers share", () => {
  it("writes a wrk script that POSTs a body of the given size", () => {
    const script = postScript(1048576);
    expect(script).toContain('wrk.method = "POST"');
    expect(script).toContain('wrk.body = string.rep("x", 1048576)');
  });

  it("routes /kind/size and nothing else", () => {
    expect(parseBodyPath("/file/10m")).toEqual({ kind: "file", size: "10m" });
    expect(parseBodyPath("/array/64k")).toEqual({ kind: "array", size: "64k" });
    expect(parseBodyPath("/array/2m")).toBeUndefined();
    expect(parseBodyPath("/")).toBeUndefined();
  });

  it("streams a body as 64 KiB views that add up to the same bytes", async () => {
    const body = bodyBytes(150 * 1024);
    const chunks: Buffer[] = [];
    for await (const chunk of chunksOf(body)) chunks.push(chunk);
    expect(chunks.map((c) => c.length)).toEqual([65536, 65536, 22528]);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
  });
});
