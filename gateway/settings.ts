/**
 * Every setting of the gateway, declared once: its Gunicorn name (the config-file key and the
 * name it keeps in the code down to where it takes effect), its command-line flags, its default
 * (some come from the environment, as in Gunicorn), the parser its value must pass, and what it
 * means. The `Settings` type is derived from this table; `--help` (help.ts), argument and config
 * file loading (config.ts), `--print-config` and docs/gateway.md all come from it.
 *
 * This module sits at the bottom of gateway/: it imports only leaf modules, so every other
 * module may import it.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { LEVELS, type Level } from "./log.js";
import { TrustedProxies } from "./trusted-proxies.js";
import { parseAddress, parsePort } from "./addresses.js";

export interface SettingSpec<N extends string = string, T = unknown> {
  /** Gunicorn's name: the config-file key, and the property of `Settings`. */
  name: N;
  /** Long flag without dashes; absent for config-file-only settings. */
  flag?: string;
  short?: string;
  /** Placeholder in --help (absent for on/off flags). */
  meta?: string;
  /** A repeatable flag (the value is a list). */
  multiple?: boolean;
  section: string;
  /**
   * The environment variable the default comes from, as Gunicorn's $PORT, $WEB_CONCURRENCY and
   * $FORWARDED_ALLOW_IPS: read only when no other source sets the setting, and validated then.
   */
  env?: string;
  /** Turns the environment variable's text into a value for `parse` (default: the text). */
  fromEnv?: (text: string) => unknown;
  default: () => NoInfer<T>;
  /** How the default reads in --help and the docs. */
  defaultText: string;
  /**
   * Turns a value from the command line (a string, or true for an on/off flag) or from a config
   * file (any JS value) into the setting; throws an Error whose message completes
   * "--flag: …" (the loader adds where the value came from).
   */
  parse: (value: unknown) => T;
  description: string;
}

/** Declares one setting; keeps its name and value type for `Settings`. */
function setting<const N extends string, T>(spec: SettingSpec<N, T>): SettingSpec<N, T> {
  return spec;
}

// ---- parsers: each throws an Error whose message completes "--flag: ..." ----

function asString(value: unknown): string {
  if (typeof value !== "string") throw new Error(`expected a string, got ${typeof value}`);
  return value;
}

function asOptionalString(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return asString(value);
}

function asNumber(value: unknown, { integer }: { integer: boolean }): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number))
    throw new Error(`'${String(value)}' is not a number`);
  if (integer && !Number.isInteger(number))
    throw new Error(`'${String(value)}' is not a whole number`);
  if (number < 0) throw new Error(`'${String(value)}' must not be negative`);
  return number;
}

const nonNegativeInt = (value: unknown) => asNumber(value, { integer: true });
const seconds = (value: unknown) => asNumber(value, { integer: false });

function positiveInt(value: unknown): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number === "number" && number < 1)
    throw new Error(`'${String(value)}' must be at least 1`);
  return nonNegativeInt(value);
}

function asBoolean(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new Error(`expected true or false, got '${String(value)}'`);
}

function asBindList(value: unknown): string[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw new Error("needs at least one address");
  return list.map((entry) => {
    const text = asString(entry);
    parseAddress(text);
    return text;
  });
}

/** $PORT: the port of the default bind, 0.0.0.0:$PORT (Gunicorn's rule). */
function bindFromPort(text: string): string[] {
  return [`0.0.0.0:${parsePort(text.trim())}`];
}

/**
 * Gunicorn's umask: a number, written in decimal, 0o/0x, or octal with a leading 0 ("007"),
 * as int(value, 0) with Gunicorn's leading-zero rule.
 */
function asUmask(value: unknown): number {
  let number = value;
  if (typeof value === "string") {
    const text = value.trim();
    if (/^0[0-7]+$/.test(text)) number = parseInt(text, 8);
    else if (/^0o[0-7]+$/i.test(text)) number = parseInt(text.slice(2), 8);
    else if (/^0x[0-9a-f]+$/i.test(text)) number = parseInt(text.slice(2), 16);
    else if (/^\d+$/.test(text)) number = Number(text);
    else number = NaN;
  }
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > 0o777)
    throw new Error(`'${String(value)}' is not a umask (0 to 0777, e.g. 007 or 0o007)`);
  return number;
}

function asLevel(value: unknown): Level {
  const text = asString(value).toLowerCase();
  if (!(LEVELS as readonly string[]).includes(text))
    throw new Error(`'${String(value)}' is not one of ${LEVELS.join(", ")}`);
  return text as Level;
}

function asIpList(value: unknown): string {
  const text = Array.isArray(value) ? value.map(asString).join(",") : asString(value);
  new TrustedProxies(text); // throws a one-line error for a bad entry
  return text;
}

function asOptionalAddress(value: unknown): string | null {
  const text = asOptionalString(value);
  if (text !== null) parseAddress(text);
  return text;
}

/** Gunicorn's clamps: 0 means unlimited; larger than 8190 is 8190. */
function requestLineLimit(value: unknown): number {
  return Math.min(nonNegativeInt(value), 8190);
}
/** Gunicorn's clamp: 0 or more than 32768 means 32768. */
function requestFieldsLimit(value: unknown): number {
  const number = nonNegativeInt(value);
  return number === 0 || number > 32768 ? 32768 : number;
}
/** Gunicorn's clamp: 0 means the default 8190 (not unlimited). */
function requestFieldSizeLimit(value: unknown): number {
  const number = nonNegativeInt(value);
  return number === 0 ? 8190 : number;
}

const constant =
  <const T>(value: T) =>
  () =>
    value;

export const DEFAULT_ACCESS_LOG_FORMAT =
  '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** The table. Order is the order of --help and the docs. */
export const SETTINGS = [
  setting({
    name: "config",
    flag: "config",
    short: "c",
    meta: "FILE",
    section: "Config file",
    default: constant(null),
    defaultText: "./gateway.config.js if it exists",
    parse: asOptionalString,
    description:
      "JS module (ESM) whose default export object, or named exports, set any setting and the server hooks.",
  }),
  setting({
    name: "check_config",
    flag: "check-config",
    section: "Config file",
    default: constant(false),
    defaultText: "off",
    parse: asBoolean,
    description: "Check the settings and import the app, then exit (0 if all is well).",
  }),
  setting({
    name: "print_config",
    flag: "print-config",
    section: "Config file",
    default: constant(false),
    defaultText: "off",
    parse: asBoolean,
    description: "Print the effective settings and exit.",
  }),
  setting({
    name: "bind",
    flag: "bind",
    short: "b",
    meta: "ADDRESS",
    multiple: true,
    section: "Server socket",
    env: "PORT",
    fromEnv: bindFromPort,
    default: constant(["127.0.0.1:8000"]),
    defaultText: "127.0.0.1:8000, or 0.0.0.0:$PORT",
    parse: asBindList,
    description:
      "Address to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH, or fd://NUMBER (a listening socket inherited from systemd). Repeat for several.",
  }),
  setting({
    name: "backlog",
    flag: "backlog",
    meta: "INT",
    section: "Server socket",
    default: constant(2048),
    defaultText: "2048",
    parse: positiveInt,
    description: "How many connections may wait in the kernel queue for a worker to accept them.",
  }),
  setting({
    name: "workers",
    flag: "workers",
    short: "w",
    meta: "INT",
    section: "Worker processes",
    env: "WEB_CONCURRENCY",
    default: constant(1),
    defaultText: "$WEB_CONCURRENCY or 1",
    parse: positiveInt,
    description: "Number of worker processes serving requests (try 2-4 per CPU core).",
  }),
  setting({
    name: "timeout",
    flag: "timeout",
    short: "t",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(30),
    defaultText: "30",
    parse: seconds,
    description:
      "A worker whose event loop stops answering the heartbeat for longer is killed and replaced (0: never).",
  }),
  setting({
    name: "graceful_timeout",
    flag: "graceful-timeout",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(30),
    defaultText: "30",
    parse: seconds,
    description:
      "Time a stopping worker has to finish its requests (TERM, HUP, TTOU, max-requests) before it is killed.",
  }),
  setting({
    name: "keepalive",
    flag: "keep-alive",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(2),
    defaultText: "2",
    parse: seconds,
    description: "How long an idle keep-alive connection waits for its next request.",
  }),
  setting({
    name: "max_requests",
    flag: "max-requests",
    meta: "INT",
    section: "Worker processes",
    default: constant(0),
    defaultText: "0",
    parse: nonNegativeInt,
    description: "Replace a worker after it has served this many requests (0: never).",
  }),
  setting({
    name: "max_requests_jitter",
    flag: "max-requests-jitter",
    meta: "INT",
    section: "Worker processes",
    default: constant(0),
    defaultText: "0",
    parse: nonNegativeInt,
    description:
      "Add a random 0..N to each worker's max-requests, so workers do not all restart at once.",
  }),
  setting({
    name: "worker_tmp_dir",
    flag: "worker-tmp-dir",
    meta: "DIR",
    section: "Worker processes",
    // Memory-backed where Linux has one, so the per-request write never waits for a disk.
    default: () => (existsSync("/dev/shm") ? "/dev/shm" : tmpdir()),
    defaultText: "/dev/shm if it exists, else the system temp dir",
    parse: asString,
    description: "Where each worker's scoreboard file (the request it is serving) lives.",
  }),
  setting({
    name: "limit_request_line",
    flag: "limit-request-line",
    meta: "BYTES",
    section: "Security",
    default: constant(4094),
    defaultText: "4094",
    parse: requestLineLimit,
    description: "Longest request line (0: unlimited, at most 8190); longer gets 414.",
  }),
  setting({
    name: "limit_request_fields",
    flag: "limit-request-fields",
    meta: "INT",
    section: "Security",
    default: constant(100),
    defaultText: "100",
    parse: requestFieldsLimit,
    description: "Most header fields in a request (at most 32768); more gets 431.",
  }),
  setting({
    name: "limit_request_field_size",
    flag: "limit-request-field-size",
    meta: "BYTES",
    section: "Security",
    default: constant(8190),
    defaultText: "8190",
    parse: requestFieldSizeLimit,
    description: "Longest header field, name and value (0 means 8190); longer gets 431.",
  }),
  setting({
    name: "limit_request_body",
    flag: "limit-request-body",
    meta: "BYTES",
    section: "Security",
    default: constant(0),
    defaultText: "0",
    parse: nonNegativeInt,
    description:
      "Largest request body (0: unlimited); a larger Content-Length gets 413 before the app runs, a larger chunked body fails the app's read with 413.",
  }),
  setting({
    name: "header_timeout",
    flag: "header-timeout",
    meta: "SECONDS",
    section: "Security",
    default: constant(20),
    defaultText: "20",
    parse: seconds,
    description:
      "Time a client has to send the request line and headers (0: none); after it, 408 and close.",
  }),
  setting({
    name: "request_timeout",
    flag: "request-timeout",
    meta: "SECONDS",
    section: "Security",
    default: constant(60),
    defaultText: "60",
    parse: seconds,
    description:
      "Time a client has to send the whole request, body included (0: none); after it, 408 and close.",
  }),
  setting({
    name: "forwarded_allow_ips",
    flag: "forwarded-allow-ips",
    meta: "IPS",
    section: "Security",
    env: "FORWARDED_ALLOW_IPS",
    default: constant("127.0.0.1,::1"),
    defaultText: "127.0.0.1,::1, or $FORWARDED_ALLOW_IPS",
    parse: asIpList,
    description: "Peers (IPs, CIDRs or *) trusted to set X-Forwarded-For and X-Forwarded-Proto.",
  }),
  setting({
    name: "root_path",
    flag: "root-path",
    meta: "PATH",
    section: "Server mechanics",
    default: constant(""),
    defaultText: '""',
    parse: asString,
    description: "SCRIPT_NAME: the path prefix the app is mounted at.",
  }),
  setting({
    name: "pidfile",
    flag: "pid",
    short: "p",
    meta: "FILE",
    section: "Server mechanics",
    default: constant(null),
    defaultText: "none",
    parse: asOptionalString,
    description: "Write the master's PID to this file (removed on exit).",
  }),
  setting({
    name: "proc_name",
    flag: "name",
    short: "n",
    meta: "NAME",
    section: "Server mechanics",
    default: constant(null),
    defaultText: "the app",
    parse: asOptionalString,
    description: "Name shown in process titles: 'gateway: master [NAME]'.",
  }),
  setting({
    name: "umask",
    flag: "umask",
    short: "m",
    meta: "INT",
    section: "Server mechanics",
    default: constant(0),
    defaultText: "0",
    parse: asUmask,
    description:
      "Bits taken away from a unix socket's mode 0777, as Gunicorn's (0: any local user may connect, as to a TCP port; 007: only the owner and the group, e.g. nginx's).",
  }),
  setting({
    name: "accesslog",
    flag: "access-logfile",
    meta: "FILE",
    section: "Logging",
    default: constant(null),
    defaultText: "none",
    parse: asOptionalString,
    description: "Access log file ('-' for stdout).",
  }),
  setting({
    name: "access_log_format",
    flag: "access-logformat",
    meta: "FORMAT",
    section: "Logging",
    default: constant(DEFAULT_ACCESS_LOG_FORMAT),
    defaultText: DEFAULT_ACCESS_LOG_FORMAT,
    parse: asString,
    description:
      "Access log line, with Gunicorn's atoms: %(h)s, %(r)s, %(s)s, %(D)s, %({header}i)s…",
  }),
  setting({
    name: "access_log_json",
    flag: "access-log-json",
    section: "Logging",
    default: constant(false),
    defaultText: "off",
    parse: asBoolean,
    description: "Write each access log line as a JSON object of the atoms instead.",
  }),
  setting({
    name: "errorlog",
    flag: "error-logfile",
    meta: "FILE",
    section: "Logging",
    default: constant("-"),
    defaultText: "- (stderr)",
    parse: asString,
    description: "Error log file ('-' for stderr).",
  }),
  setting({
    name: "loglevel",
    flag: "log-level",
    meta: "LEVEL",
    section: "Logging",
    default: constant("info"),
    defaultText: "info",
    parse: asLevel,
    description: `Least severe error log level: ${LEVELS.join(", ")}.`,
  }),
  setting({
    name: "metrics_bind",
    flag: "metrics-bind",
    meta: "ADDRESS",
    section: "Logging",
    default: constant(null),
    defaultText: "none",
    parse: asOptionalAddress,
    description: "Serve Prometheus /metrics, and the worker stats (/stats, /), on this address.",
  }),
  setting({
    name: "app",
    section: "Application",
    default: constant(null),
    defaultText: "none",
    parse: asOptionalString,
    description:
      "MODULE[:EXPORT] of the application, when not given on the command line (config file only).",
  }),
] as const;

type AnySetting = (typeof SETTINGS)[number];

/** The effective settings, one property per row of the table, named as in the table. */
export type Settings = { -readonly [S in AnySetting as S["name"]]: ReturnType<S["parse"]> };
export type SettingName = keyof Settings;

export const SETTING_BY_NAME = new Map<string, AnySetting>(
  SETTINGS.map((spec) => [spec.name, spec]),
);

/**
 * Every setting at its default. The environment ($PORT, $WEB_CONCURRENCY…) is not read here:
 * config.ts applies it, validated, where no other source set the setting.
 */
export function defaultSettings(): Settings {
  const settings: Record<string, unknown> = {};
  for (const spec of SETTINGS) settings[spec.name] = spec.default();
  return settings as Settings;
}

/**
 * Gunicorn settings the gateway does not have, with what to do instead: a Gunicorn user's
 * habits get a hint rather than "unknown option". `name` is the config-file key, `flags` the
 * command-line spellings.
 */
export interface ForeignSetting {
  name: string;
  flags: string[];
  hint: string;
}

const TLS_HINT =
  "TLS ends at nginx in front of the gateway (see nginx/); the gateway speaks plain HTTP";
const LOGGING_HINT =
  "logs go to --error-logfile and --access-logfile (or stderr/stdout, for the supervisor to collect)";
const RELOAD_HINT =
  "send HUP to reload the app with its new code (kill -HUP $(cat PIDFILE)); in development, node --watch";
const USER_HINT =
  "start the gateway as the user it should run as (USER in a Dockerfile, User= in a systemd unit)";

export const GUNICORN_ONLY: readonly ForeignSetting[] = [
  {
    name: "preload_app",
    flags: ["--preload"],
    hint: "each worker imports the app itself: workers are fresh Node processes, not fork() copies, so there is no memory to share; leave it out",
  },
  {
    name: "worker_class",
    flags: ["-k", "--worker-class"],
    hint: "there is one kind of worker, a Node event loop (like Gunicorn's async workers); leave it out",
  },
  {
    name: "threads",
    flags: ["--threads"],
    hint: "a worker is one event-loop thread; for more of them use -w/--workers",
  },
  {
    name: "worker_connections",
    flags: ["--worker-connections"],
    hint: "a worker takes as many connections as its event loop can; limit clients in nginx",
  },
  { name: "user", flags: ["-u", "--user"], hint: USER_HINT },
  { name: "group", flags: ["-g", "--group"], hint: USER_HINT },
  { name: "initgroups", flags: ["--initgroups"], hint: USER_HINT },
  {
    name: "daemon",
    flags: ["-D", "--daemon"],
    hint: "run the gateway in the foreground under a supervisor (systemd, Docker, compose)",
  },
  {
    name: "chdir",
    flags: ["--chdir"],
    hint: "cd to the directory before starting the gateway (paths are relative to the working directory)",
  },
  {
    name: "pythonpath",
    flags: ["--pythonpath"],
    hint: "MODULE is a file path (from the working directory) or an installed package name",
  },
  {
    name: "raw_env",
    flags: ["-e", "--env"],
    hint: "set environment variables in the shell, the Dockerfile or the systemd unit",
  },
  { name: "reload", flags: ["--reload"], hint: RELOAD_HINT },
  { name: "reload_engine", flags: ["--reload-engine"], hint: RELOAD_HINT },
  { name: "reload_extra_files", flags: ["--reload-extra-file"], hint: RELOAD_HINT },
  { name: "errorlog", flags: ["--log-file"], hint: "the gateway's name for it is --error-logfile" },
  {
    name: "limit_request_field_size",
    flags: ["--limit-request-field_size"],
    hint: "the gateway's name for it is --limit-request-field-size",
  },
  { name: "wsgi_app", flags: [], hint: "the gateway's name for it is app" },
  { name: "keyfile", flags: ["--keyfile"], hint: TLS_HINT },
  { name: "certfile", flags: ["--certfile"], hint: TLS_HINT },
  { name: "ca_certs", flags: ["--ca-certs"], hint: TLS_HINT },
  { name: "ssl_version", flags: ["--ssl-version"], hint: TLS_HINT },
  { name: "cert_reqs", flags: ["--cert-reqs"], hint: TLS_HINT },
  { name: "ciphers", flags: ["--ciphers"], hint: TLS_HINT },
  {
    name: "statsd_host",
    flags: ["--statsd-host"],
    hint: "use --metrics-bind ADDRESS (Prometheus)",
  },
  {
    name: "statsd_prefix",
    flags: ["--statsd-prefix"],
    hint: "use --metrics-bind ADDRESS (Prometheus)",
  },
  {
    name: "reuse_port",
    flags: ["--reuse-port"],
    hint: "the workers share the master's listening socket already; leave it out",
  },
  { name: "spew", flags: ["--spew"], hint: "use node --inspect or --cpu-prof to see what runs" },
  {
    name: "capture_output",
    flags: ["--capture-output"],
    hint: "an app writes to tsgi.errors, which is the error log; console output goes to the worker's stdout/stderr",
  },
  {
    name: "paste",
    flags: ["--paste", "--paster"],
    hint: "PasteDeploy is Python; name the app as MODULE[:EXPORT]",
  },
  {
    name: "proxy_protocol",
    flags: ["--proxy-protocol"],
    hint: "nginx in front speaks plain HTTP to the gateway and says who the client is in X-Forwarded-For (see --forwarded-allow-ips)",
  },
  { name: "logconfig", flags: ["--log-config"], hint: LOGGING_HINT },
  { name: "logconfig_dict", flags: [], hint: LOGGING_HINT },
  { name: "logconfig_json", flags: ["--log-config-json"], hint: LOGGING_HINT },
  { name: "logger_class", flags: ["--logger-class"], hint: LOGGING_HINT },
  { name: "syslog", flags: ["--log-syslog"], hint: LOGGING_HINT },
  { name: "syslog_addr", flags: ["--log-syslog-to"], hint: LOGGING_HINT },
];
