/**
 * Loading the settings: defaults < config file (`-c`) < `$GATEWAY_CMD_ARGS` < command line, as
 * Gunicorn. What each setting is, and how its value is parsed, is declared once in settings.ts;
 * this module only finds the values and says where a bad one came from, in one line.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { HOOK_NAMES, type Hooks, isHookName } from "./hooks.js";
import {
  defaultSettings,
  SETTING_BY_NAME,
  SETTINGS,
  type SettingName,
  type Settings,
} from "./settings.js";

/** A bad value, flag or config file: the message is one line that names the option. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates one value into `settings`; `label` names the option in the error ("--workers"). */
function setOne(settings: Settings, name: string, value: unknown, label: string): void {
  const spec = SETTING_BY_NAME.get(name);
  if (spec === undefined) throw new ConfigError(`${label}: unknown setting`);
  try {
    (settings as unknown as Record<string, unknown>)[name] = spec.parse(value);
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
  values: Map<SettingName, unknown>;
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
  const values = new Map<SettingName, unknown>();
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

function flagName(name: SettingName): string {
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
