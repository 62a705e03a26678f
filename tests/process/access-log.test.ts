/** The access log's atoms and its JSON form, on a hand-made exchange record (no sockets). */
import type { IncomingMessage } from "node:http";
import { describe, expect, it, vi } from "vitest";
import { AccessLog } from "../../gateway/access-log.js";
import { DEFAULT_ACCESS_LOG_FORMAT } from "../../gateway/settings.js";
import type { ExchangeRecord } from "../../gateway/handler.js";
import { LogFile } from "../../gateway/log.js";

// Real processes on a shared 2-core machine: booting one can take seconds under load. The
// assertions are about behaviour; this only keeps a slow run from being cut off.
vi.setConfig({ testTimeout: 90_000 });

function record(): ExchangeRecord {
  const request = {
    method: "GET",
    url: "/items?page=2",
    httpVersion: "1.1",
    headers: {
      referer: "http://example.test/",
      "user-agent": "curl/8",
      authorization: `Basic ${Buffer.from("ada:secret").toString("base64")}`,
      "x-trace": "t-9",
    },
    socket: { remoteAddress: "127.0.0.1" },
  } as unknown as IncomingMessage;
  return {
    environ: { REMOTE_ADDR: "203.0.113.7", PATH_INFO: "/items", QUERY_STRING: "page=2" } as never,
    request,
    status: 201,
    bytes: 42,
    headers: [["X-Id", "abc"]],
    startedAt: process.hrtime.bigint() - 1_500_000n,
  };
}

const file = new LogFile("-", 1);

describe("access log", () => {
  it("formats Gunicorn's default line", () => {
    const line = new AccessLog(file, DEFAULT_ACCESS_LOG_FORMAT, false).line(record());
    expect(line).toMatch(
      /^203\.0\.113\.7 - ada \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/items\?page=2 HTTP\/1\.1" 201 42 "http:\/\/example\.test\/" "curl\/8"$/,
    );
  });

  it("knows the other atoms", () => {
    const format =
      "%(m)s %(U)s %(q)s %(H)s %(B)s %({x-trace}i)s %({x-id}o)s %(p)s %(D)s %(L)s %(zz)s";
    const line = new AccessLog(file, format, false).line(record());
    const [m, U, q, H, B, trace, id, p, D, L, unknown] = line.split(" ");
    expect([m, U, q, H, B, trace, id, p, unknown]).toEqual([
      "GET",
      "/items",
      "page=2",
      "HTTP/1.1",
      "42",
      "t-9",
      "abc",
      `<${process.pid}>`,
      "-",
    ]);
    expect(Number(D)).toBeGreaterThanOrEqual(1500);
    expect(L).toMatch(/^0\.\d{6}$/);
  });

  it("writes one JSON object per line with --access-log-json", () => {
    const entry = JSON.parse(
      new AccessLog(file, DEFAULT_ACCESS_LOG_FORMAT, true).line(record()),
    ) as Record<string, unknown>;
    expect(entry).toMatchObject({
      remote_addr: "203.0.113.7",
      user: "ada",
      method: "GET",
      path: "/items",
      query: "page=2",
      status: 201,
      bytes: 42,
      referer: "http://example.test/",
      user_agent: "curl/8",
      pid: process.pid,
    });
    expect(entry.duration_us).toBeGreaterThanOrEqual(1500);
  });
});
