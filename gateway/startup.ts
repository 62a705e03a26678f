/**
 * Everything the master checks before the first worker starts, and what the command line
 * prints about it. Start-up and `--check-config` run the same checks (checkStartup), so a
 * check that passes is a start that gets as far as forking workers.
 *
 * Each problem is one line naming the setting, where its value came from and what is wrong,
 * plus at most one hint line; the exit codes are Gunicorn's:
 *   2  usage: a bad flag, value, config file or environment variable
 *   3  boot: the server cannot start here (a path it cannot write, an address it cannot bind)
 *   4  the app cannot be found or imported
 *   1  anything else (a bug: the stack is printed with --log-level debug)
 * No stack trace reaches the terminal unless --log-level debug asks for one.
 */
import { accessSync, constants, existsSync, lstatSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { parseAddress } from "./addresses.js";
import { checkInheritedSocket } from "./inherited-socket.js";
import { AppImportError, loadApp, locateApp } from "./app-loader.js";
import { ConfigError, flagName, loadConfig, type LoadedConfig } from "./config.js";
import { helpText, printConfig } from "./help.js";
import { runningPidIn } from "./pidfile.js";
import { socketAnswers } from "./unix-socket.js";
import { EXIT_APP, EXIT_BOOT, EXIT_USAGE } from "./protocol.js";
import { SETTINGS, type SettingName, type Settings } from "./settings.js";
import { VERSION } from "./version.js";

/** The server cannot boot in this environment (exit 3): a path, an address. */
export class BootError extends Error {
  override name = "BootError";
}

/** What the command line asks for: an exit with text, or a server to run. */
export type Outcome =
  { exitCode: number; stdout: string; stderr: string } | { serve: LoadedConfig; stdout: string };

// ---- the checks ----

type Sources = Map<SettingName, string>;

/** Where a setting's value came from (`config file x.js: bind`), or its flag. */
function label(sources: Sources | undefined, name: SettingName): string {
  return sources?.get(name) ?? flagName(name);
}

function describeErrno(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "EADDRINUSE":
      return "the address is in use by another process";
    case "EADDRNOTAVAIL":
      return "the host is not an address of this machine";
    case "EACCES":
    case "EPERM":
      return "permission denied (ports below 1024 need privileges)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_FAIL":
      return "the host name does not resolve";
    case "EAFNOSUPPORT":
      return "this address family is not available here";
    default:
      return error.code ? `${error.code}: ${error.message}` : error.message;
  }
}

/** Binds a TCP address for a moment, so a busy port fails here and not in a worker. */
function probeListen(host: string, port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    const timer = setTimeout(() => {
      server.close();
      reject(new Error("no answer from the resolver within 3 s"));
    }, 3000);
    server.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(describeErrno(error)));
    });
    server.listen({ host, port }, () => {
      clearTimeout(timer);
      server.close(() => resolvePromise());
    });
  });
}

function checkDirectory(path: string, what: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new BootError(`${what}: directory ${path} does not exist`);
  }
  if (!stat.isDirectory()) throw new BootError(`${what}: ${path} is not a directory`);
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    throw new BootError(`${what}: directory ${path} is not writable by this user`);
  }
}

/** A file the server will create or append to: the file if it exists, else its directory. */
function checkWritableFile(path: string, what: string): void {
  const full = resolve(path);
  if (!existsSync(full)) return checkDirectory(dirname(full), what);
  if (statSync(full).isDirectory()) throw new BootError(`${what}: ${path} is a directory`);
  try {
    accessSync(full, constants.W_OK);
  } catch {
    throw new BootError(`${what}: ${path} is not writable by this user`);
  }
}

async function checkAddress(text: string, what: string): Promise<string> {
  const address = parseAddress(text);
  if ("fd" in address) {
    try {
      checkInheritedSocket(address.fd);
    } catch (error) {
      throw new BootError(`${what}: ${(error as Error).message}`);
    }
    return `${what}: ${text} is an inherited socket`;
  }
  if ("path" in address) {
    checkDirectory(dirname(resolve(address.path)), what);
    let stat;
    try {
      stat = lstatSync(address.path);
    } catch {
      return `${what}: unix socket ${address.path} can be created`;
    }
    if (!stat.isSocket())
      throw new BootError(`${what}: ${address.path} exists and is not a socket`);
    if (await socketAnswers(address.path))
      throw new BootError(`${what}: another server is listening on ${address.path}`);
    return `${what}: stale socket ${address.path} will be replaced`;
  }
  try {
    await probeListen(address.host, address.port);
  } catch (error) {
    throw new BootError(`${what}: cannot listen on ${text}: ${(error as Error).message}`);
  }
  return `${what}: ${text} is free`;
}

/**
 * Checks, before any worker starts, everything start-up needs from this machine: the app's
 * module, the log, pid and scoreboard paths, and every listening address (bound for a
 * moment). Returns one line per check, for --check-config; throws BootError,
 * AppImportError or ConfigError. A running master checks a HUP's new settings with it too,
 * passing the addresses it already listens on (`listening`), which need no probe.
 */
export async function checkStartup(
  settings: Settings,
  sources?: Sources,
  { listening = [] }: { listening?: readonly string[] } = {},
): Promise<string[]> {
  const checked: string[] = [];
  if (settings.app === null)
    throw new ConfigError(
      "no application given",
      "gateway [options] MODULE[:EXPORT], e.g. gateway app/dist/hello.js",
    );
  const app = locateApp(settings.app);
  checked.push(`app: ${settings.app} → ${app.path ?? app.specifier}`);

  for (const name of ["errorlog", "accesslog", "pidfile"] as const) {
    const value = settings[name];
    if (value === null || (value === "-" && name !== "pidfile")) continue;
    checkWritableFile(value, label(sources, name));
    checked.push(`${label(sources, name)}: ${value} is writable`);
  }
  const previous = settings.pidfile === null ? null : runningPidIn(settings.pidfile);
  if (previous !== null)
    throw new BootError(
      `${label(sources, "pidfile")}: ${settings.pidfile} names a running process (${previous}); is the gateway already running?`,
    );
  const tmp = settings.worker_tmp_dir;
  const tmpLabel = label(sources, "worker_tmp_dir");
  checkDirectory(tmp, tmpLabel);
  checked.push(`${tmpLabel}: ${tmp} is writable`);

  const seen = new Set<string>();
  const bindLabel = label(sources, "bind");
  for (const bind of settings.bind) {
    const key = JSON.stringify(parseAddress(bind));
    if (seen.has(key)) throw new ConfigError(`${bindLabel}: ${bind} is given twice`);
    seen.add(key);
    checked.push(
      listening.includes(bind)
        ? `${bindLabel}: ${bind} is ours`
        : await checkAddress(bind, bindLabel),
    );
  }
  if (settings.metrics_bind !== null) {
    const metricsLabel = label(sources, "metrics_bind");
    const key = JSON.stringify(parseAddress(settings.metrics_bind));
    const port = parseAddress(settings.metrics_bind);
    if (seen.has(key) && !("port" in port && port.port === 0))
      throw new ConfigError(`${metricsLabel}: ${settings.metrics_bind} is also a --bind address`);
    checked.push(
      listening.includes(settings.metrics_bind)
        ? `${metricsLabel}: ${settings.metrics_bind} is ours`
        : await checkAddress(settings.metrics_bind, metricsLabel),
    );
  }
  return checked;
}

// ---- the command line ----

/** A value echoed in a message may hold a newline or an escape sequence: show it, escaped. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function errorText(error: ConfigError | BootError | AppImportError): string {
  const hint = "hint" in error && error.hint ? `gateway: hint: ${oneLine(error.hint)}\n` : "";
  return `gateway: error: ${oneLine(error.message)}\n${hint}`;
}

function exitCodeOf(error: unknown): number | null {
  if (error instanceof ConfigError) return EXIT_USAGE;
  if (error instanceof BootError) return EXIT_BOOT;
  if (error instanceof AppImportError) return EXIT_APP;
  return null;
}

/** One line for an error nobody planned for; its stack only when debugging. */
export function unexpectedErrorText(error: unknown, debug: boolean): string {
  const message = oneLine(error instanceof Error ? error.message : String(error));
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : "";
  const hint = debug ? "" : "gateway: hint: --log-level debug prints the stack trace\n";
  return `gateway: error: ${message}\n${stack}${hint}`;
}

/** Was debug logging asked for, even if the settings did not load? */
export function wantsDebug(argv: string[], env: NodeJS.ProcessEnv): boolean {
  return /(^|\s)--log-level(=|\s+)debug\b/i.test(`${argv.join(" ")} ${env.GATEWAY_CMD_ARGS ?? ""}`);
}

/**
 * What `gateway ARGS` does up to the point of starting the master: load and validate the
 * settings, answer --help/--version/--print-config, run the start-up checks, and for
 * --check-config also import the app. Never throws for bad input.
 */
export async function prepare(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Outcome> {
  try {
    const config = await loadConfig(argv, env);
    if (config.help) return { exitCode: 0, stdout: helpText(), stderr: "" };
    if (config.version) return { exitCode: 0, stdout: `gateway (foobar) ${VERSION}\n`, stderr: "" };
    const { settings, sources } = config;
    if (settings.print_config) {
      if (settings.app === null) await checkStartup(settings, sources); // says what is missing
      return { exitCode: 0, stdout: printConfig(config), stderr: "" };
    }
    const checked = await checkStartup(settings, sources);
    if (!settings.check_config) return { serve: config, stdout: "" };
    await loadApp(settings.app!);
    const from = ["defaults", ...new Set([...sources.values()].map(sourceOf))].join(", ");
    const lines = [
      `settings: all ${SETTINGS.length} checked, from ${from}`,
      ...checked,
      `app: ${settings.app} imported, its export is a function`,
      "configuration and app are OK",
    ];
    return { exitCode: 0, stdout: lines.map((line) => `gateway: ${line}\n`).join(""), stderr: "" };
  } catch (error) {
    const code = exitCodeOf(error);
    if (code !== null)
      return {
        exitCode: code,
        stdout: "",
        stderr: errorText(error as ConfigError | BootError | AppImportError),
      };
    return { exitCode: 1, stdout: "", stderr: unexpectedErrorText(error, wantsDebug(argv, env)) };
  }
}

/** "config file x.js: workers" → "config file x.js"; "$PORT (--bind)" → "$PORT". */
function sourceOf(label: string): string {
  if (label.startsWith("config file ")) return label.slice(0, label.indexOf(": "));
  if (label.startsWith("$GATEWAY_CMD_ARGS")) return "$GATEWAY_CMD_ARGS";
  if (label.startsWith("$")) return label.split(" ")[0]!;
  return "command line";
}
