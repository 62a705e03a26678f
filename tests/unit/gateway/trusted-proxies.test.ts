/**
 * TrustedProxies remembers its verdicts (BlockList.check per X-Forwarded-For hop per request was
 * a quarter of the gateway's throughput behind nginx): remembered verdicts must be the same as
 * fresh ones, for trusted and untrusted addresses alike, and the memory must stay bounded.
 */
import { describe, expect, it } from "vitest";
import { TrustedProxies } from "../../../gateway/trusted-proxies.js";

describe("TrustedProxies verdicts", () => {
  const proxies = new TrustedProxies("127.0.0.1,10.0.0.0/8,::1");

  it("gives the same answer the second time, trusted or not", () => {
    for (let round = 0; round < 2; round++) {
      expect(proxies.trusts("127.0.0.1")).toBe(true);
      expect(proxies.trusts("::ffff:127.0.0.1")).toBe(true);
      expect(proxies.trusts("10.20.30.40")).toBe(true);
      expect(proxies.trusts("::1")).toBe(true);
      expect(proxies.trusts("203.0.113.9")).toBe(false);
      expect(proxies.trusts("not-an-address")).toBe(false);
    }
  });

  it("keeps judging right after many distinct addresses (the memory is bounded)", () => {
    for (let i = 0; i < 10_000; i++) proxies.trusts(`198.51.${(i >> 8) & 255}.${i & 255}`);
    expect(proxies.trusts("10.1.2.3")).toBe(true);
    expect(proxies.trusts("198.51.0.1")).toBe(false);
  });
});
