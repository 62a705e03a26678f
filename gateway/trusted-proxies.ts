/**
 * Which peers may tell us about the client: `--forwarded-allow-ips`.
 *
 * Behind nginx, the TCP peer is nginx, not the browser. nginx says who the client was and which
 * scheme it used in `X-Forwarded-For` and `X-Forwarded-Proto`. Anyone can send those headers, so
 * the gateway believes them only from addresses listed here (default: loopback).
 */
import { BlockList, isIP } from "node:net";
import type { Environ } from "@foobar/tsgi";
import { BadRequest } from "./errors.js";

/** Parses `"127.0.0.1,::1,10.0.0.0/8"` or `"*"`; throws a one-line error for a bad entry. */
export class TrustedProxies {
  readonly #everyone: boolean;
  readonly #list = new BlockList();

  constructor(spec: string) {
    const entries = spec
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "");
    this.#everyone = entries.includes("*");
    for (const entry of entries) {
      if (entry === "*") continue;
      const [address = "", bits] = entry.split("/");
      const family = isIP(address);
      if (family === 0) throw new Error(`not an IP address or network: '${entry}'`);
      const type = family === 4 ? "ipv4" : "ipv6";
      if (bits === undefined) this.#list.addAddress(address, type);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
          throw new Error(`bad network prefix: '${entry}'`);
        this.#list.addSubnet(address, prefix, type);
      }
    }
  }

  /**
   * What we know of the addresses seen lately. A proxy sends the same few (its own, the
   * clients'), and both BlockList.check (a crossing into C++ and an allocation) and isIP (two
   * regular expressions) cost more than a Map lookup: asked for every X-Forwarded-For hop of
   * every request, the check alone took a quarter of the gateway's throughput behind nginx.
   */
  readonly #verdicts = new Map<string, Verdict>();

  /** Unix-socket peers (no address) are always trusted: only local processes can connect. */
  trusts(address: string): boolean {
    if (this.#everyone || address === "") return true;
    return this.#verdictOn(address) === "trusted";
  }

  #verdictOn(address: string): Verdict {
    let verdict = this.#verdicts.get(address);
    if (verdict === undefined) {
      verdict = this.#check(address);
      // Bounded: a flood of distinct forged addresses only ever costs the check itself.
      if (this.#verdicts.size >= 4096) this.#verdicts.clear();
      this.#verdicts.set(address, verdict);
    }
    return verdict;
  }

  #check(address: string): Verdict {
    const mapped = address.startsWith("::ffff:") ? address.slice(7) : address;
    const family = isIP(mapped);
    if (family === 0) return "not an address";
    if (this.#everyone) return "trusted";
    return this.#list.check(mapped, family === 4 ? "ipv4" : "ipv6") ? "trusted" : "untrusted";
  }

  /**
   * Applies a trusted peer's forwarding headers to the environ. Returns whether the client's
   * address replaced the peer's (its port is then unknown: the caller leaves REMOTE_PORT out).
   */
  apply(environ: Environ): boolean {
    const proto = environ.HTTP_X_FORWARDED_PROTO;
    if (proto !== undefined) {
      // nginx sends exactly "http" or "https": no string work for them.
      const scheme =
        proto === "http" || proto === "https" ? proto : proto.split(",")[0]!.trim().toLowerCase();
      if (scheme !== "http" && scheme !== "https")
        throw new BadRequest(`Invalid X-Forwarded-Proto '${proto}'`);
      environ["tsgi.url_scheme"] = scheme;
    }
    const forwardedFor = environ.HTTP_X_FORWARDED_FOR;
    if (forwardedFor === undefined) return false;
    // The right-most address that is not one of our proxies is the client as far as we can
    // tell: everything left of it was written by parties we do not trust. (One hop, as nginx
    // sends, needs no splitting.)
    const hops = forwardedFor.includes(",")
      ? forwardedFor.split(",").map((hop) => hop.trim())
      : [forwardedFor.trim()];
    let client = hops[0]!;
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.trusts(hops[i]!)) {
        client = hops[i]!;
        break;
      }
    }
    if (this.#verdictOn(client) === "not an address")
      throw new BadRequest(`Invalid X-Forwarded-For '${forwardedFor}'`);
    environ["gateway.peer_addr"] = environ.REMOTE_ADDR;
    environ.REMOTE_ADDR = client;
    return true;
  }
}

type Verdict = "trusted" | "untrusted" | "not an address";
