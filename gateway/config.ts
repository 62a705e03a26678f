/**
 * Every setting of the gateway, in one table: its Gunicorn name (the config-file key), its
 * command-line flags, its default (some come from the environment, as in Gunicorn), the check
 * its value must pass and what it means. `--help`, argument parsing, `--print-config` and
 * docs/gateway.md all come from this table.
 *
 * Sources, lowest precedence first (as Gunicorn): defaults < config file (`-c`) <
 * `$GATEWAY_CMD_ARGS` < command line.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isIP, type AddressInfo } from "node:net";
import { LEVELS, type Level } from "./log.js";
import { TrustedProxies } from "./trusted-proxies.js";
import { HOOK_NAMES, type Hooks, isHookName } from "./hooks.js";

/** A bad value, flag or config file: the message is one line that names the option. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface Settings {
  /** MODULE[:EXPORT] of the application (the positional argument). */
  app: string | null;
  config: string | null;
  bind: string[];
  backlog: number;
  workers: number;
  timeout: number;
  graceful_timeout: number;
  keepalive: number;
  max_requests: number;
  max_requests_jitter: number;
  limit_request_line: number;
  limit_request_fields: number;
  limit_request_field_size: number;
  limit_request_body: number;
  header_timeout: number;
  request_timeout: number;
  root_path: string;
  forwarded_allow_ips: string;
  pidfile: string | null;
  proc_name: string | null;
  worker_tmp_dir: string | null;
  accesslog: string | null;
  access_log_format: string;
  access_log_json: boolean;
  errorlog: string;
  loglevel: Level;
  metrics_bind: string | null;
  check_config: boolean;
  print_config: boolean;
}

type Name = keyof Settings;

export interface SettingSpec<K extends Name> {
  name: K;
  /** Long flag without dashes; absent for config-file-only settings. */
  flag?: string;
  short?: string;
  /** Placeholder in --help (absent for on/off flags). */
  meta?: string;
  /** A repeatable flag (the value is a list). */
  multiple?: boolean;
  section: string;
  /** The default, which may depend on the environment ($PORT, $WEB_CONCURRENCY, …). */
  default: (env: NodeJS.ProcessEnv) => Settings[K];
  /** How the default reads in --help and the docs. */
  defaultText: string;
  /** Turns a value from the command line (string, true) or a config file (any) into a setting. */
  validate: (value: unknown) => Settings[K];
  description: string;
}

// ---- validators: each throws an Error whose message completes "--flag: ..." ----

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
  const number = nonNegativeInt(value);
  if (number < 1) throw new Error(`'${String(value)}' must be at least 1`);
  return number;
}

function asBoolean(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new Error(`expected true or false, got '${String(value)}'`);
}

/** Where to listen: a TCP host and port, or a unix socket path. */
export type Address = { host: string; port: number } | { path: string };

export function parseAddress(text: string): Address {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (path === "") throw new Error(`'${text}' has no socket path`);
    return { path };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text);
  if (match === null) throw new Error(`'${text}' is not HOST:PORT, [IPv6]:PORT or unix:PATH`);
  const port = Number(match[3] ?? 8000);
  if (port > 65535) throw new Error(`port ${port} in '${text}' is out of range`);
  const host = match[1] ?? match[2] ?? "";
  if (match[1] !== undefined && isIP(host) !== 6)
    throw new Error(`'${host}' in '${text}' is not an IPv6 address`);
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** How a listening server's address reads in the log: `http://HOST:PORT` or `unix:PATH`. */
export function describeListener(where: AddressInfo | string | null): string {
  if (typeof where === "string" || where === null) return `unix:${where ?? ""}`;
  const host = where.family === "IPv6" ? `[${where.address}]` : where.address;
  return `http://${host}:${where.port}`;
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
  <T>(value: T) =>
  () =>
    value;

export const DEFAULT_ACCESS_LOG_FORMAT =
  '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

type AnySpec = { [K in Name]: SettingSpec<K> }[Name];

/** The table. Order is the order of --help and the docs. */
export const SETTINGS: readonly AnySpec[] = [
  {
    name: "config",
    flag: "config",
    short: "c",
    meta: "FILE",
    section: "Config file",
    default: constant(null),
    defaultText: "./gateway.config.js if it exists",
    validate: asOptionalString,
    description:
      "JS module (ESM) whose default export object, or named exports, set any setting and the server hooks.",
  },
  {
    name: "check_config",
    flag: "check-config",
    section: "Config file",
    default: constant(false),
    defaultText: "off",
    validate: asBoolean,
    description: "Check the settings and import the app, then exit (0 if all is well).",
  },
  {
    name: "print_config",
    flag: "print-config",
    section: "Config file",
    default: constant(false),
    defaultText: "off",
    validate: asBoolean,
    description: "Print the effective settings and exit.",
  },
  {
    name: "bind",
    flag: "bind",
    short: "b",
    meta: "ADDRESS",
    multiple: true,
    section: "Server socket",
    default: (env) => [env.PORT ? `0.0.0.0:${env.PORT}` : "127.0.0.1:8000"],
    defaultText: "127.0.0.1:8000, or 0.0.0.0:$PORT",
    validate: asBindList,
    description: "Address to listen on: HOST:PORT, [IPv6]:PORT or unix:PATH. Repeat for several.",
  },
  {
    name: "backlog",
    flag: "backlog",
    meta: "INT",
    section: "Server socket",
    default: constant(2048),
    defaultText: "2048",
    validate: positiveInt,
    description: "How many connections may wait in the kernel queue for a worker to accept them.",
  },
  {
    name: "workers",
    flag: "workers",
    short: "w",
    meta: "INT",
    section: "Worker processes",
    default: (env) => {
      const fromEnv = Number(env.WEB_CONCURRENCY);
      return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 1;
    },
    defaultText: "$WEB_CONCURRENCY or 1",
    validate: positiveInt,
    description: "Number of worker processes serving requests (try 2-4 per CPU core).",
  },
  {
    name: "timeout",
    flag: "timeout",
    short: "t",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(30),
    defaultText: "30",
    validate: seconds,
    description:
      "A worker whose event loop stops answering the heartbeat for longer is killed and replaced (0: never).",
  },
  {
    name: "graceful_timeout",
    flag: "graceful-timeout",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(30),
    defaultText: "30",
    validate: seconds,
    description:
      "Time a stopping worker has to finish its requests (TERM, HUP, TTOU, max-requests) before it is killed.",
  },
  {
    name: "keepalive",
    flag: "keep-alive",
    meta: "SECONDS",
    section: "Worker processes",
    default: constant(2),
    defaultText: "2",
    validate: seconds,
    description: "How long an idle keep-alive connection waits for its next request.",
  },
  {
    name: "max_requests",
    flag: "max-requests",
    meta: "INT",
    section: "Worker processes",
    default: constant(0),
    defaultText: "0",
    validate: nonNegativeInt,
    description: "Replace a worker after it has served this many requests (0: never).",
  },
  {
    name: "max_requests_jitter",
    flag: "max-requests-jitter",
    meta: "INT",
    section: "Worker processes",
    default: constant(0),
    defaultText: "0",
    validate: nonNegativeInt,
    description:
      "Add a random 0..N to each worker's max-requests, so workers do not all restart at once.",
  },
  {
    name: "worker_tmp_dir",
    flag: "worker-tmp-dir",
    meta: "DIR",
    section: "Worker processes",
    default: constant(null),
    defaultText: "/dev/shm if it exists, else the system temp dir",
    validate: asOptionalString,
    description: "Where each worker's scoreboard file (the request it is serving) lives.",
  },
  {
    name: "limit_request_line",
    flag: "limit-request-line",
    meta: "BYTES",
    section: "Security",
    default: constant(4094),
    defaultText: "4094",
    validate: requestLineLimit,
    description: "Longest request line (0: unlimited, at most 8190); longer gets 414.",
  },
  {
    name: "limit_request_fields",
    flag: "limit-request-fields",
    meta: "INT",
    section: "Security",
    default: constant(100),
    defaultText: "100",
    validate: requestFieldsLimit,
    description: "Most header fields in a request (at most 32768); more gets 431.",
  },
  {
    name: "limit_request_field_size",
    flag: "limit-request-field-size",
    meta: "BYTES",
    section: "Security",
    default: constant(8190),
    defaultText: "8190",
    validate: requestFieldSizeLimit,
    description: "Longest header field, name and value (0 means 8190); longer gets 431.",
  },
  {
    name: "limit_request_body",
    flag: "limit-request-body",
    meta: "BYTES",
    section: "Security",
    default: constant(0),
    defaultText: "0",
    validate: nonNegativeInt,
    description:
      "Largest request body (0: unlimited); a larger Content-Length gets 413 before the app runs, a larger chunked body fails the app's read with 413.",
  },
  {
    name: "header_timeout",
    flag: "header-timeout",
    meta: "SECONDS",
    section: "Security",
    default: constant(20),
    defaultText: "20",
    validate: seconds,
    description:
      "Time a client has to send the request line and headers (0: none); after it, 408 and close.",
  },
  {
    name: "request_timeout",
    flag: "request-timeout",
    meta: "SECONDS",
    section: "Security",
    default: constant(60),
    defaultText: "60",
    validate: seconds,
    description:
      "Time a client has to send the whole request, body included (0: none); after it, 408 and close.",
  },
  {
    name: "forwarded_allow_ips",
    flag: "forwarded-allow-ips",
    meta: "IPS",
    section: "Security",
    default: (env) => env.FORWARDED_ALLOW_IPS ?? "127.0.0.1,::1",
    defaultText: "127.0.0.1,::1, or $FORWARDED_ALLOW_IPS",
    validate: asIpList,
    description: "Peers (IPs, CIDRs or *) trusted to set X-Forwarded-For and X-Forwarded-Proto.",
  },
  {
    name: "root_path",
    flag: "root-path",
    meta: "PATH",
    section: "Server mechanics",
    default: constant(""),
    defaultText: '""',
    validate: asString,
    description: "SCRIPT_NAME: the path prefix the app is mounted at.",
  },
  {
    name: "pidfile",
    flag: "pid",
    short: "p",
    meta: "FILE",
    section: "Server mechanics",
    default: constant(null),
    defaultText: "none",
    validate: asOptionalString,
    description: "Write the master's PID to this file (removed on exit).",
  },
  {
    name: "proc_name",
    flag: "name",
    short: "n",
    meta: "NAME",
    section: "Server mechanics",
    default: constant(null),
    defaultText: "the app",
    validate: asOptionalString,
    description: "Name shown in process titles: 'gateway: master [NAME]'.",
  },
  {
    name: "accesslog",
    flag: "access-logfile",
    meta: "FILE",
    section: "Logging",
    default: constant(null),
    defaultText: "none",
    validate: asOptionalString,
    description: "Access log file ('-' for stdout).",
  },
  {
    name: "access_log_format",
    flag: "access-logformat",
    meta: "FORMAT",
    section: "Logging",
    default: constant(DEFAULT_ACCESS_LOG_FORMAT),
    defaultText: DEFAULT_ACCESS_LOG_FORMAT,
    validate: asString,
    description:
      "Access log line, with Gunicorn's atoms: %(h)s, %(r)s, %(s)s, %(D)s, %({header}i)s…",
  },
  {
    name: "access_log_json",
    flag: "access-log-json",
    section: "Logging",
    default: constant(false),
    defaultText: "off",
    validate: asBoolean,
    description: "Write each access log line as a JSON object of the atoms instead.",
  },
  {
    name: "errorlog",
    flag: "error-logfile",
    meta: "FILE",
    section: "Logging",
    default: constant("-"),
    defaultText: "- (stderr)",
    validate: asString,
    description: "Error log file ('-' for stderr).",
  },
  {
    name: "loglevel",
    flag: "log-level",
    meta: "LEVEL",
    section: "Logging",
    default: constant("info"),
    defaultText: "info",
    validate: asLevel,
    description: `Least severe error log level: ${LEVELS.join(", ")}.`,
  },
  {
    name: "metrics_bind",
    flag: "metrics-bind",
    meta: "ADDRESS",
    section: "Logging",
    default: constant(null),
    defaultText: "none",
    validate: asOptionalAddress,
    description: "Serve Prometheus metrics of all workers at /metrics on this address.",
  },
  {
    name: "app",
    section: "Application",
    default: constant(null),
    defaultText: "none",
    validate: asOptionalString,
    description:
      "MODULE[:EXPORT] of the application, when not given on the command line (config file only).",
  },
];

export const SETTING_BY_NAME = new Map<string, AnySpec>(SETTINGS.map((spec) => [spec.name, spec]));

export function defaultSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const settings: Record<string, unknown> = {};
  for (const spec of SETTINGS) settings[spec.name] = spec.default(env);
  return settings as unknown as Settings;
}

/** Validates one value into `settings`; `label` names the option in the error ("--workers"). */
function setOne(settings: Settings, name: string, value: unknown, label: string): void {
  const spec = SETTING_BY_NAME.get(name);
  if (spec === undefined) throw new ConfigError(`${label}: unknown setting`);
  try {
    (settings as unknown as Record<string, unknown>)[name] = spec.validate(value);
  } catch (error) {
    throw new ConfigError(`${label}: ${(error as Error).message}`);
  }
}

// ---- the command line ----

function parseOptions(): Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  };
  for (const spec of SETTINGS) {
    if (spec.flag === undefined) continue;
    options[spec.flag] = {
      type: spec.meta === undefined ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  return options;
}

export interface CommandLine {
  /** Settings given, by name, still as text. */
  values: Map<Name, unknown>;
  help: boolean;
  version: boolean;
}

export function parseCommandLine(argv: string[], where = "command line"): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: parseOptions(),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`${where}: ${(error as Error).message.split("\n")[0]}`);
  }
  const values = new Map<Name, unknown>();
  for (const spec of SETTINGS) {
    if (spec.flag === undefined) continue;
    const value = parsed.values[spec.flag];
    if (value !== undefined) values.set(spec.name, value);
  }
  if (parsed.positionals.length > 1)
    throw new ConfigError(
      `${where}: expected one application, got ${parsed.positionals.join(" ")}`,
    );
  if (parsed.positionals.length === 1) values.set("app", parsed.positionals[0]);
  return {
    values,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
  };
}

/** Splits `$GATEWAY_CMD_ARGS` as a shell would for simple cases: spaces, '…' and "…". */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g))
    words.push(match[1]?.replace(/\\(.)/g, "$1") ?? match[2] ?? match[3] ?? "");
  return words;
}

function flagName(name: Name): string {
  const spec = SETTING_BY_NAME.get(name);
  return spec?.flag === undefined ? name : `--${spec.flag}`;
}

// ---- the config file ----

export interface LoadedConfig {
  settings: Settings;
  hooks: Partial<Hooks>;
}

/** Imports a config module afresh (HUP re-reads it) and returns its settings and hooks. */
async function importConfigFile(
  path: string,
): Promise<{ values: Map<string, unknown>; hooks: Partial<Hooks> }> {
  const where = `config file ${path}:`;
  if (!existsSync(path)) throw new ConfigError(`${where} no such file`);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(`${pathToFileURL(resolve(path)).href}?t=${Date.now()}`)) as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw new ConfigError(`${where} cannot import: ${(error as Error).message.split("\n")[0]}`);
  }
  const source =
    namespace.default !== undefined && typeof namespace.default === "object" && namespace.default
      ? (namespace.default as Record<string, unknown>)
      : namespace;
  const values = new Map<string, unknown>();
  const hooks: Partial<Hooks> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === "default" && source === namespace) continue;
    if (isHookName(key)) {
      if (typeof value !== "function")
        throw new ConfigError(`${where} hook ${key} must be a function, not ${typeof value}`);
      (hooks as Record<string, unknown>)[key] = value;
    } else if (SETTING_BY_NAME.has(key)) {
      if (key === "config")
        throw new ConfigError(`${where} 'config' cannot be set in a config file`);
      values.set(key, value);
    } else {
      throw new ConfigError(
        `${where} unknown setting '${key}' (settings use Gunicorn's names, e.g. graceful_timeout; hooks: ${HOOK_NAMES.join(", ")})`,
      );
    }
  }
  return { values, hooks };
}

/** The hooks a config file sets (a worker imports the file again to get them). */
export async function loadHooks(path: string): Promise<Partial<Hooks>> {
  return (await importConfigFile(path)).hooks;
}

/**
 * The effective settings: defaults < config file < $GATEWAY_CMD_ARGS < command line.
 * Throws ConfigError with one line naming the option at fault.
 */
export async function loadConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig & { help: boolean; version: boolean }> {
  const commandLine = parseCommandLine(argv);
  const fromEnv = parseCommandLine(splitArgs(env.GATEWAY_CMD_ARGS ?? ""), "$GATEWAY_CMD_ARGS");
  const settings = defaultSettings(env);

  const configPath = (commandLine.values.get("config") ??
    fromEnv.values.get("config") ??
    (existsSync("gateway.config.js") ? "gateway.config.js" : null)) as string | null;
  let hooks: Partial<Hooks> = {};
  if (configPath !== null && !commandLine.help && !commandLine.version) {
    const file = await importConfigFile(configPath);
    hooks = file.hooks;
    for (const [name, value] of file.values)
      setOne(settings, name, value, `config file ${configPath}: ${name}`);
    settings.config = configPath;
  }
  for (const [name, value] of fromEnv.values)
    setOne(settings, name, value, `$GATEWAY_CMD_ARGS ${flagName(name)}`);
  for (const [name, value] of commandLine.values) setOne(settings, name, value, flagName(name));
  if (settings.max_requests_jitter > 0 && settings.max_requests === 0)
    throw new ConfigError("--max-requests-jitter: needs --max-requests");
  return { settings, hooks, help: commandLine.help, version: commandLine.version };
}

// ---- --help and --print-config ----

export function helpText(): string {
  const lines = [
    "usage: gateway [options] MODULE[:EXPORT]",
    "",
    "Serve the TSGI application exported by MODULE (default export unless :EXPORT is given)",
    "with a master process and N worker processes, as Gunicorn serves WSGI.",
    "",
  ];
  let section = "";
  for (const spec of SETTINGS) {
    if (spec.flag === undefined) continue;
    if (spec.section !== section) {
      section = spec.section;
      lines.push(`${section}:`);
    }
    const flags = `${spec.short ? `-${spec.short}, ` : "    "}--${spec.flag}${spec.meta ? ` ${spec.meta}` : ""}`;
    lines.push(`  ${flags.padEnd(34)} ${spec.description}`);
    lines.push(`  ${"".padEnd(34)} [default: ${spec.defaultText}]`);
  }
  lines.push(
    "Other:",
    `  ${"-h, --help".padEnd(34)} Show this help and exit.`,
    `  ${"-v, --version".padEnd(34)} Show the version and exit.`,
    "",
    "Signals to the master: TERM graceful stop, INT/QUIT quick stop, HUP reload,",
    "TTIN/TTOU one worker more/less, USR1 reopen log files. See docs/gateway.md.",
    "",
  );
  return lines.join("\n");
}

export function printConfig(config: LoadedConfig): string {
  const lines: string[] = [];
  for (const spec of SETTINGS)
    lines.push(`${spec.name.padEnd(26)} = ${JSON.stringify(config.settings[spec.name])}`);
  for (const hook of HOOK_NAMES)
    lines.push(`${hook.padEnd(26)} = ${config.hooks[hook] ? "<function>" : "<default>"}`);
  return lines.join("\n") + "\n";
}
