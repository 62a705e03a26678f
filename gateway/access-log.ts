/**
 * The access log: one line per response, in Gunicorn's `%(atom)s` format (Apache's atoms with
 * Python's syntax), or one JSON object per line with `--access-log-json`.
 *
 * Atoms: h remote address, l "-", u user (HTTP Basic), t time, r request line, m method,
 * U path, q query, H protocol, s status, B body bytes, b bytes or "-", f referer, a user agent,
 * T seconds, M milliseconds, D microseconds, L seconds with decimals, p "<pid>",
 * {name}i request header, {name}o response header, {name}e environment variable.
 */
import { headerValue } from "@foobar/tsgi/headers";
import type { ExchangeRecord } from "./handler.js";
import type { LogFile } from "./log.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `[10/Oct/2000:13:55:36 +0000]`, Apache's common log time. */
function logTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `[${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000]`
  );
}

function basicAuthUser(authorization: string | undefined): string {
  if (!authorization?.toLowerCase().startsWith("basic ")) return "-";
  const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("latin1");
  const colon = decoded.indexOf(":");
  return colon > 0 ? decoded.slice(0, colon) : "-";
}

/** The value of one atom for one exchange. */
function atom(name: string, record: ExchangeRecord, now: Date, nanoseconds: bigint): string {
  const { request, environ } = record;
  const braced = /^\{([^}]*)\}([ioe])$/.exec(name);
  if (braced !== null) {
    const [, key = "", kind] = braced;
    if (kind === "i") {
      const value = request.headers[key.toLowerCase()];
      return value === undefined ? "-" : String(value);
    }
    if (kind === "o") return headerValue(record.headers, key) ?? "-";
    return process.env[key] ?? "-";
  }
  const path = environ?.PATH_INFO ?? request.url ?? "";
  const query = typeof environ?.QUERY_STRING === "string" ? environ.QUERY_STRING : "";
  const protocol = `HTTP/${request.httpVersion}`;
  switch (name) {
    case "h":
      return String(environ?.REMOTE_ADDR ?? request.socket.remoteAddress ?? "-");
    case "l":
      return "-";
    case "u":
      return basicAuthUser(request.headers.authorization);
    case "t":
      return logTime(now);
    case "r":
      return `${request.method} ${request.url} ${protocol}`;
    case "m":
      return request.method ?? "-";
    case "U":
      return String(path);
    case "q":
      return query;
    case "H":
      return protocol;
    case "s":
      return String(record.status);
    case "B":
      return String(record.bytes);
    case "b":
      return record.bytes > 0 ? String(record.bytes) : "-";
    case "f":
      return request.headers.referer ?? "-";
    case "a":
      return request.headers["user-agent"] ?? "-";
    case "T":
      return String(nanoseconds / 1_000_000_000n);
    case "M":
      return String(nanoseconds / 1_000_000n);
    case "D":
      return String(nanoseconds / 1_000n);
    case "L":
      return (Number(nanoseconds) / 1e9).toFixed(6);
    case "p":
      return `<${process.pid}>`;
    default:
      return "-";
  }
}

const ATOM = /%\(([^)]+)\)s/g;

export class AccessLog {
  constructor(
    readonly file: LogFile,
    readonly format: string,
    readonly json: boolean,
  ) {}

  line(record: ExchangeRecord): string {
    const now = new Date();
    const elapsed = process.hrtime.bigint() - record.startedAt;
    if (!this.json)
      return this.format.replace(ATOM, (_, name: string) => atom(name, record, now, elapsed));
    const get = (name: string) => atom(name, record, now, elapsed);
    return JSON.stringify({
      time: now.toISOString(),
      remote_addr: get("h"),
      user: get("u"),
      method: get("m"),
      path: get("U"),
      query: get("q"),
      protocol: get("H"),
      status: record.status,
      bytes: record.bytes,
      referer: get("f"),
      user_agent: get("a"),
      duration_us: Number(elapsed / 1_000n),
      pid: process.pid,
    });
  }

  write(record: ExchangeRecord): void {
    this.file.write(this.line(record) + "\n");
  }
}
