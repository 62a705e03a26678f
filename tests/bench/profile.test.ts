// The profile reader of `npm run bench:profile`: samples outside the measured window are left
// out, self time lands in the right category, time beneath the handler is counted through the
// stack, and the per-request figures divide by the requests served.
import { describe, expect, it } from "vitest";
import {
  categoryOf,
  profileChartSvg,
  profileTable,
  summarizeProfiles,
  type CpuProfile,
} from "../../bench/profile-report.js";

const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 9 });

/** root → handler (gateway) → writeHead (Node HTTP) → writev; plus idle and GC. */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 5, 6] },
    {
      id: 2,
      callFrame: frame("handleRequest", "file:///x/gateway/dist/handler.js"),
      children: [3],
    },
    { id: 3, callFrame: frame("writeHead", "node:_http_server"), children: [4] },
    { id: 4, callFrame: frame("writev"), children: [] },
    { id: 5, callFrame: frame("(idle)"), children: [] },
    { id: 6, callFrame: frame("(garbage collector)"), children: [] },
  ],
  startTime: 1000,
  endTime: 2000,
  // Sample times: 1010, 1020, … (each stands for 10 µs, until the next).
  samples: [2, 3, 4, 4, 5, 6, 2, 2],
  timeDeltas: [10, 10, 10, 10, 10, 10, 10, 10],
};

describe("profile summary", () => {
  it("puts frames in categories by script and name", () => {
    expect(categoryOf("x", "file:///r/tsgi/dist/response-engine.js")).toMatch(/^foobar: tsgi/);
    expect(categoryOf("end", "node:_http_outgoing")).toMatch(/^Node: HTTP/);
    expect(categoryOf("write", "node:internal/streams/writable")).toBe("Node: streams");
    expect(categoryOf("emit", "node:events")).toMatch(/^Node: net/);
    expect(categoryOf("writev", "")).toMatch(/^socket write/);
    expect(categoryOf("Map", "")).toMatch(/^other native/);
    expect(categoryOf("(idle)", "")).toBe("idle");
  });

  it("counts self time per request within the window, and time beneath the handler", () => {
    // Window 1015–1065 holds the samples at 1020 … 1060: writeHead, writev, writev, idle, GC.
    const summary = summarizeProfiles([PROFILE], { from: 1015, to: 1065 }, 2, /\/gateway\//);
    expect(summary.byCategory["Node: HTTP (_http_*, internal/http)"]).toBe(5);
    expect(summary.byCategory["socket write (writev/writeBuffer)"]).toBe(10);
    expect(summary.byCategory["garbage collector"]).toBe(5);
    expect(summary.byCategory["foobar: gateway/"]).toBe(0);
    expect(summary.idle).toBe(5);
    expect(summary.busy).toBe(20);
    expect(summary.underHandler).toBe(15); // writeHead and both writevs, not the GC
    expect(summary.topFunctions[0]).toEqual(["writev (native)", 10]);
  });

  it("adds profiles of several processes together", () => {
    const one = summarizeProfiles([PROFILE], { from: 0, to: 5000 }, 1, /\/gateway\//);
    const two = summarizeProfiles([PROFILE, PROFILE], { from: 0, to: 5000 }, 1, /\/gateway\//);
    expect(two.busy).toBe(one.busy * 2);
    // handleRequest's three samples: the last one has no successor, so it stands for no time.
    expect(one.byCategory["foobar: gateway/"]).toBe(20);
  });

  it("tables and charts both sides with foobar's extra", () => {
    const node = summarizeProfiles([PROFILE], { from: 0, to: 5000 }, 2, /\/gateway\//);
    const foobar = summarizeProfiles([PROFILE], { from: 0, to: 5000 }, 1, /\/gateway\//);
    const table = profileTable(node, foobar);
    expect(table).toMatch(
      /\| socket write \(writev\/writeBuffer\) +\| +10\.00 \| +20\.00 \| +10\.00 \|/,
    );
    const svg = profileChartSvg(node, foobar, "a <title>");
    expect(svg).toContain("a &lt;title&gt;");
    // Two bars for each of the 10 categories, and node's swatch in the legend.
    expect(svg.match(/<rect x="300"/g)!.length).toBe(21);
  });
});
