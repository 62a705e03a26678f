/**
 * Loading the settings: defaults < config file (`-c`) < `$GATEWAY_CMD_ARGS` < command line, as
 * Gunicorn. What each setting is, and how its value is parsed, is declared once in settings.ts;
 * this module only finds the values and says where a bad one came from, in one line.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { describeImportError } from "./app-loader.js";
import { HOOK_NAMES, type Hooks, isHookName } from "./hooks.js";
import {
  defaultSettings,
  GUNICORN_ONLY,
  SETTING_BY_NAME,
  SETTINGS,
  type SettingName,
  type Settings,
} from "./settings.js";

/**
 * A bad value, flag or config file: `message` is one line that names the option and where it
 * came from; `hint`, when there is one, says what to write instead (Gunicorn habits).
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Validates one value into `settings`; `label` names the option in the error ("--workers"). */
function setOne(
  settings: Settings,
  name: string,
  value: unknown,
  label: string,
  sources?: Map<SettingName, string>,
  /** Turns an environment variable's text into the value (settings.ts `fromEnv`). */
  transform: (text: string) => unknown = (text) => text,
): void {
  const spec = SETTING_BY_NAME.get(name);
  if (spec === undefined) throw new ConfigError(`${label}: unknown setting`);
  try {
    const given = typeof value === "string" ? transform(value) : value;
    (settings as unknown as Record<string, unknown>)[name] = spec.parse(given);
  } catch (error) {
    throw new ConfigError(`${label}: ${(error as Error).message}`);
  }
  sources?.set(spec.name, label);
}

// ---- the command line ----

type OptionKind = "string" | "boolean";
interface OptionSpec {
  type: OptionKind;
  short?: string;
  multiple?: boolean;
}

function parseOptions(): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {
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

const OPTIONS = parseOptions();

/** The option a command-line word names (`--workers`, `-w`), or undefined. */
function optionOf(word: string): { long: string; spec: OptionSpec } | undefined {
  if (word.startsWith("--")) {
    const spec = OPTIONS[word.slice(2)];
    return spec && { long: word.slice(2), spec };
  }
  for (const [long, spec] of Object.entries(OPTIONS))
    if (spec.short === word.slice(1)) return { long, spec };
  return undefined;
}

/** Levenshtein distance, for "did you mean --workers?". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length]!;
}

/** What to say about an option the gateway does not have. */
function unknownOption(word: string, prefix: string): ConfigError {
  const foreign = GUNICORN_ONLY.find((setting) => setting.flags.includes(word));
  if (foreign !== undefined)
    return new ConfigError(
      `${prefix}${word}: Gunicorn option the gateway does not have`,
      foreign.hint,
    );
  let best = "";
  let bestDistance = Infinity;
  for (const long of Object.keys(OPTIONS)) {
    const d = distance(word.replace(/^-+/, ""), long);
    if (d < bestDistance) [best, bestDistance] = [long, d];
  }
  return new ConfigError(
    `${prefix}${word}: unknown option`,
    bestDistance <= 2
      ? `did you mean --${best}? (gateway --help lists them all)`
      : "gateway --help lists every option",
  );
}

const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * Checks the words before node:util's parseArgs sees them, so each mistake gets its own
 * one-line message: an unknown option (with a hint for Gunicorn's), an option without its
 * value, an on/off flag given a value. A negative number after an option is its value
 * (`-w -1` is "--workers: '-1' must be at least 1", not "argument is ambiguous").
 */
function screenArguments(argv: string[], prefix: string): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      words.push(...argv.slice(i));
      break;
    }
    if (!word.startsWith("-") || word === "-" || NEGATIVE_NUMBER.test(word)) {
      words.push(word);
      continue;
    }
    const equals = word.indexOf("=");
    const isLong = word.startsWith("--");
    const name = isLong ? (equals < 0 ? word : word.slice(0, equals)) : word.slice(0, 2);
    const inline = isLong
      ? equals < 0
        ? undefined
        : word.slice(equals + 1)
      : word.slice(2) || undefined;
    const option = optionOf(name);
    if (option === undefined) throw unknownOption(name, prefix);
    const label = `${prefix}--${option.long}`;
    if (option.spec.type === "boolean") {
      if (inline !== undefined && isLong) throw new ConfigError(`${label}: takes no value`);
      // -hv: a group of on/off flags; each must be one.
      if (inline !== undefined)
        for (const letter of inline) {
          const other = optionOf(`-${letter}`);
          if (other === undefined) throw unknownOption(`-${letter}`, prefix);
          if (other.spec.type !== "boolean")
            throw new ConfigError(`${prefix}-${letter}: put it apart from ${name}, with its value`);
        }
      words.push(word);
      continue;
    }
    if (inline !== undefined) {
      words.push(`--${option.long}=${inline}`);
      continue;
    }
    const value = argv[i + 1];
    if (
      value === undefined ||
      (value.startsWith("-") && value !== "-" && !NEGATIVE_NUMBER.test(value))
    )
      throw new ConfigError(
        `${label}: needs a value${value === undefined ? "" : ` (got the option ${value})`}`,
      );
    words.push(`--${option.long}=${value}`);
    i += 1;
  }
  return words;
}

export interface CommandLine {
  /** Settings given, by name, still as text. */
  values: Map<SettingName, unknown>;
  help: boolean;
  version: boolean;
}

export function parseCommandLine(argv: string[], where = "command line"): CommandLine {
  const prefix = where === "command line" ? "" : `${where} `;
  let parsed;
  try {
    parsed = parseArgs({
      args: screenArguments(argv, prefix),
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
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
      `${where}: expected one application, got ${parsed.positionals.map((word) => `'${word}'`).join(" ")}`,
      "options go before or after MODULE[:EXPORT], each with its value: gateway -w 2 app.js",
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

/** `--access-logfile` for `accesslog`: how a setting is named on the command line. */
export function flagName(name: SettingName): string {
  const spec = SETTING_BY_NAME.get(name);
  return spec?.flag === undefined ? name : `--${spec.flag}`;
}

// ---- the config file ----

export interface LoadedConfig {
  settings: Settings;
  hooks: Partial<Hooks>;
  /** Where each setting that is not at its default came from, as errors name it ("$PORT (--bind)"). */
  sources?: Map<SettingName, string>;
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
    throw new ConfigError(`${where} cannot import: ${describeImportError(error, resolve(path))}`);
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
      const foreign = GUNICORN_ONLY.find((setting) => setting.name === key);
      if (foreign !== undefined)
        throw new ConfigError(
          `${where} ${key}: Gunicorn setting the gateway does not have`,
          foreign.hint,
        );
      throw new ConfigError(
        `${where} unknown setting '${key}'`,
        `settings use Gunicorn's names, e.g. graceful_timeout; hooks: ${HOOK_NAMES.join(", ")}`,
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
 * The effective settings: defaults < environment defaults ($PORT, $WEB_CONCURRENCY,
 * $FORWARDED_ALLOW_IPS) < config file < $GATEWAY_CMD_ARGS < command line. Every value that takes
 * effect is validated here, once; an environment default only when no other source sets the
 * setting (as Gunicorn: `--bind` wins over $PORT). Throws ConfigError with one line naming the
 * option and its source.
 */
export async function loadConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig & { sources: Map<SettingName, string>; help: boolean; version: boolean }> {
  const commandLine = parseCommandLine(argv);
  const envArgs = parseCommandLine(splitArgs(env.GATEWAY_CMD_ARGS ?? ""), "$GATEWAY_CMD_ARGS");
  const settings = defaultSettings();
  const sources = new Map<SettingName, string>();

  const configPath = (commandLine.values.get("config") ??
    envArgs.values.get("config") ??
    (existsSync("gateway.config.js") ? "gateway.config.js" : null)) as string | null;
  let hooks: Partial<Hooks> = {};
  let fileValues = new Map<string, unknown>();
  if (configPath !== null && !commandLine.help && !commandLine.version) {
    const file = await importConfigFile(configPath);
    hooks = file.hooks;
    fileValues = file.values;
    settings.config = configPath;
  }
  for (const spec of SETTINGS) {
    const text = spec.env === undefined ? undefined : env[spec.env]?.trim();
    if (text === undefined || text === "") continue;
    if (fileValues.has(spec.name) || envArgs.values.has(spec.name)) continue;
    if (commandLine.values.has(spec.name)) continue;
    const label = `$${spec.env} (${flagName(spec.name)})`;
    setOne(settings, spec.name, text, label, sources, "fromEnv" in spec ? spec.fromEnv : undefined);
  }
  for (const [name, value] of fileValues)
    setOne(settings, name, value, `config file ${configPath}: ${name}`, sources);
  for (const [name, value] of envArgs.values)
    setOne(settings, name, value, `$GATEWAY_CMD_ARGS ${flagName(name)}`, sources);
  for (const [name, value] of commandLine.values)
    setOne(settings, name, value, flagName(name), sources);
  if (settings.max_requests_jitter > 0 && settings.max_requests === 0)
    throw new ConfigError("--max-requests-jitter: needs --max-requests");
  return { settings, hooks, sources, help: commandLine.help, version: commandLine.version };
}
