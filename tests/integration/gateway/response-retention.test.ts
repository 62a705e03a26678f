/**
 * A finished response does not outlive its request. The request guard remembers each
 * connection's last response (a parse error that follows it must wait for it); kept until the
 * connection's next request, every response survived V8's young-generation collections, which
 * then grew the young generation ~2.5× and cost a worker 2–5 % of its throughput
 * (docs/performance.md). V8's collector answers the question itself, in a child process started
 * with --expose-gc.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = resolve("tests/fixtures/shape/response-retention.mjs");

describe("what a connection keeps between requests", () => {
  it("lets each finished response be collected while the connection stays open", () => {
    const output = execFileSync(process.execPath, ["--expose-gc", SCRIPT], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(JSON.parse(output)).toEqual({ alive: [false, false], idleConnections: 1 });
  });
});
