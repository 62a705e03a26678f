/**
 * --forwarded-allow-ips through TrustedProxies' public face: which lists it accepts, whom it
 * trusts, and what a trusted peer's X-Forwarded-For / X-Forwarded-Proto do to the environ.
 * (Written to kill the mutants Stryker found surviving here: docs/mutation.md.)
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { Environ } from "../../../tsgi/types.js";
import { TrustedProxies } from "../../../gateway/trusted-proxies.js";

function environ(headers: Record<string, string>): Environ {
  return { REMOTE_ADDR: "127.0.0.1", "tsgi.url_scheme": "http", ...headers } as unknown as Environ;
}

describe("the list", () => {
  it("takes entries with spaces around them and empty ones between", () => {
    const proxies = new TrustedProxies(" 10.0.0.1 ,, 192.168.0.0/16 ,");
    expect(proxies.trusts("10.0.0.1")).toBe(true);
    expect(proxies.trusts("192.168.7.7")).toBe(true);
    expect(proxies.trusts("10.0.0.2")).toBe(false);
  });

  it("takes every prefix from /0 to the address's width", () => {
    expect(new TrustedProxies("0.0.0.0/0").trusts("203.0.113.9")).toBe(true);
    expect(new TrustedProxies("::/0").trusts("2001:db8::1")).toBe(true);
    const exact = new TrustedProxies("10.0.0.1/32,2001:db8::1/128");
    expect(exact.trusts("10.0.0.1")).toBe(true);
    expect(exact.trusts("10.0.0.2")).toBe(false);
    expect(exact.trusts("2001:db8::1")).toBe(true);
    expect(exact.trusts("2001:db8::2")).toBe(false);
  });

  it("an address alone is that address, not a network", () => {
    const proxies = new TrustedProxies("10.0.0.0");
    expect(proxies.trusts("10.0.0.0")).toBe(true);
    expect(proxies.trusts("10.0.0.1")).toBe(false);
  });

  it("'*' trusts every address, among other entries too", () => {
    for (const spec of ["*", "10.0.0.1,*"]) {
      const proxies = new TrustedProxies(spec);
      expect(proxies.trusts("203.0.113.9")).toBe(true);
      expect(proxies.trusts("2001:db8::1")).toBe(true);
    }
  });

  it("an empty list trusts nobody with an address", () => {
    expect(new TrustedProxies("").trusts("127.0.0.1")).toBe(false);
  });

  it.each([
    ["localhost", "not an IP address or network: 'localhost'"],
    ["10.0.0.1,example", "not an IP address or network: 'example'"],
    ["10.0.0.0/33", "bad network prefix: '10.0.0.0/33'"],
    ["::/129", "bad network prefix: '::/129'"],
    ["10.0.0.0/-1", "bad network prefix: '10.0.0.0/-1'"],
    ["10.0.0.0/8.5", "bad network prefix: '10.0.0.0/8.5'"],
  ])("refuses %j: %s", (spec, message) => {
    expect(() => new TrustedProxies(spec)).toThrow(message);
  });

  it("trusts a unix-socket peer (no address), and IPv4 written as IPv6", () => {
    const proxies = new TrustedProxies("10.0.0.1");
    expect(proxies.trusts("")).toBe(true);
    expect(proxies.trusts("::ffff:10.0.0.1")).toBe(true);
    expect(proxies.trusts("::ffff:10.0.0.2")).toBe(false);
  });
});

describe("a trusted peer's forwarding headers", () => {
  // Made in each test (not once here), so each test is seen to run the constructor too.
  let proxies: TrustedProxies;
  beforeEach(() => {
    proxies = new TrustedProxies("127.0.0.1,10.0.0.0/8");
  });

  it.each([
    ["http", "http"],
    ["https", "https"],
    ["HTTPS", "https"],
    [" https , http", "https"],
  ])("X-Forwarded-Proto %j sets the scheme to %s", (proto, scheme) => {
    const env = environ({ HTTP_X_FORWARDED_PROTO: proto });
    expect(proxies.apply(env)).toBe(false);
    expect(env["tsgi.url_scheme"]).toBe(scheme);
  });

  it.each(["ftp", "", "http2"])("X-Forwarded-Proto %j is a bad request", (proto) => {
    expect(() => proxies.apply(environ({ HTTP_X_FORWARDED_PROTO: proto }))).toThrow(
      `Invalid X-Forwarded-Proto '${proto}'`,
    );
  });

  it.each([
    ["203.0.113.9", "203.0.113.9"],
    [" 203.0.113.9 ", "203.0.113.9"],
    // The right-most address that is not a proxy of ours: the left ones could be forged.
    ["198.51.100.1, 203.0.113.9, 10.0.0.5", "203.0.113.9"],
    // Every hop trusted: the left-most is the client.
    ["10.1.1.1, 10.0.0.5", "10.1.1.1"],
    ["10.1.1.1,127.0.0.1", "10.1.1.1"],
  ])("X-Forwarded-For %j names the client %s", (forwardedFor, client) => {
    const env = environ({ HTTP_X_FORWARDED_FOR: forwardedFor });
    expect(proxies.apply(env)).toBe(true);
    expect(env.REMOTE_ADDR).toBe(client);
    expect(env["gateway.peer_addr"]).toBe("127.0.0.1");
  });

  it.each(["not-an-ip", "203.0.113.9, bogus", ""])(
    "X-Forwarded-For %j is a bad request",
    (forwardedFor) => {
      expect(() => proxies.apply(environ({ HTTP_X_FORWARDED_FOR: forwardedFor }))).toThrow(
        `Invalid X-Forwarded-For '${forwardedFor}'`,
      );
    },
  );

  it("without the headers, the environ is left alone", () => {
    const env = environ({});
    expect(proxies.apply(env)).toBe(false);
    expect(env.REMOTE_ADDR).toBe("127.0.0.1");
    expect(env["tsgi.url_scheme"]).toBe("http");
  });
});
