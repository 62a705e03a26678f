import { describe, expect, it } from "vitest";
import { proxy } from "../../../app/proxy.js";
import { createDemo } from "../../../app/index.js";

describe("proxy configuration", () => {
  it.each([
    [[], /at least one upstream/],
    [["nonsense"], /upstream "nonsense" is not a URL/],
    [["ftp://127.0.0.1/"], /must be an http:\/\/ or https:\/\/ URL/],
  ])("refuses %j with a one-line reason", (upstreams, reason) => {
    expect(() => proxy({ upstreams })).toThrow(reason);
  });

  it("reports every upstream healthy before any request", async () => {
    const app = proxy({ upstreams: ["http://127.0.0.1:9", "http://127.0.0.1:10/base"] });
    expect(app.health()).toEqual([
      { url: "http://127.0.0.1:9", healthy: true, failures: 0, served: 0, lastError: null },
      { url: "http://127.0.0.1:10/base", healthy: true, failures: 0, served: 0, lastError: null },
    ]);
    await app.close();
  });

  it("makes the demo refuse a bad PROXY_UPSTREAMS at startup", () => {
    expect(() => createDemo({ PROXY_UPSTREAMS: "http://127.0.0.1:9001, oops" })).toThrow(
      /"oops" is not a URL/,
    );
  });
});
