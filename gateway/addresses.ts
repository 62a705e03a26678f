/**
 * Addresses: where a server listens (`--bind`, `--metrics-bind`) and how a listening one reads
 * in the log. Parsing is strict so a typo fails at start-up with one line, not at listen().
 */
import { isIP, type AddressInfo } from "node:net";

/**
 * Where to listen: a TCP host and port, a unix socket path, or a listening TCP socket inherited
 * by descriptor number (`fd://3`: systemd's socket activation; gateway/inherited-socket.ts).
 */
export type Address = { host: string; port: number } | { path: string } | { fd: number };

export function parseAddress(text: string): Address {
  if (text.startsWith("fd://")) {
    const digits = text.slice("fd://".length);
    if (!/^\d+$/.test(digits)) throw new Error(`'${text}' is not fd://NUMBER, e.g. fd://3`);
    const fd = Number(digits);
    if (fd < 3)
      throw new Error(`'${text}': descriptors 0, 1 and 2 are standard input, output and error`);
    return { fd };
  }
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (path === "") throw new Error(`'${text}' has no socket path`);
    // sockaddr_un.sun_path holds 108 bytes on Linux, the terminating NUL included.
    if (Buffer.byteLength(path) > 107)
      throw new Error(`socket path in '${text}' is longer than the 107 bytes a unix socket allows`);
    return { path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text);
  if (match === null)
    throw new Error(`'${text}' is not HOST:PORT, [IPv6]:PORT, unix:PATH or fd://NUMBER`);
  const port = match[3] === undefined ? 8000 : parsePort(match[3], text);
  const host = match[1] ?? match[2] ?? "";
  if (match[2] !== undefined && !/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?$/.test(host))
    throw new Error(`'${host}' in '${text}' is not a host name or IP address`);
  if (match[1] !== undefined && isIP(host) !== 6)
    throw new Error(`'${host}' in '${text}' is not an IPv6 address`);
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/**
 * A TCP port from its decimal digits, 0 to 65535: the one range check, for the port of an
 * address and for $PORT alike. `address` is where the port was written, for the message.
 */
export function parsePort(text: string, address?: string): number {
  if (/^\d+$/.test(text) && Number(text) <= 65535) return Number(text);
  const where = address === undefined ? "" : ` in '${address}'`;
  throw new Error(`port '${text}'${where} is not a number from 0 to 65535`);
}

/** How a listening server's address reads in the log: `http://HOST:PORT` or `unix:PATH`. */
export function describeListener(where: AddressInfo | string | null): string {
  if (typeof where === "string" || where === null) return `unix:${where ?? ""}`;
  const host = where.family === "IPv6" ? `[${where.address}]` : where.address;
  return `http://${host}:${where.port}`;
}
