/**
 * Bad invocations, from every source a value can come from (command line, $GATEWAY_CMD_ARGS,
 * $PORT, $WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS, a config file) and every kind of problem (a
 * bad value, a Gunicorn habit, a path or address this machine cannot give, an app that cannot
 * be found or imported). Each must end in one line naming the setting, its source and the
 * problem — plus at most one hint line — the right exit code (2 usage, 3 boot, 4 app), and no
 * stack frame.
 *
 * Every case runs through `prepare()`, the function the command line runs before it starts the
 * master (the same code, in this process: fast). A representative subset also runs as real
 * processes doing a real start (no --check-config), which must stop by themselves.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepare } from "../../gateway/startup.js";
import { APPS, CLI } from "./gateway-process.js";

const scratch = mkdtempSync(join(tmpdir(), "gateway-bad-"));
const APP = `${APPS}/slow.js`;
const file = (name: string, text: string) => {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
};

// Fixtures: config files, apps, a regular file, a directory, and a busy port.
const files = {
  syntaxConfig: file("syntax.config.js", "export default {\n  workers: 2,\n  timeout: (30,\n};\n"),
  negativeConfig: file("negative.config.js", "export const max_requests = -1;\n"),
  typoConfig: file("typo.config.js", "export const wokers = 2;\n"),
  gunicornConfig: file("gunicorn.config.js", "export const preload_app = true;\n"),
  stringWorkersConfig: file("string.config.js", 'export default { workers: "many" };\n'),
  numberBindConfig: file("bind.config.js", "export default { bind: 42 };\n"),
  throwingConfig: file("throws.config.js", 'const a = 1;\nthrow new Error("config boom");\n'),
  hookConfig: file("hook.config.js", "export const on_starting = 5;\n"),
  syntaxApp: file("syntax-app.mjs", "export default function app() {\n  return foo(1;\n}\n"),
  importsSyntaxApp: file("imports-syntax.mjs", 'import "./syntax-app.mjs";\nexport default 1;\n'),
  throwingApp: file("throwing-app.mjs", 'const a = 1;\nthrow new Error("app boom");\n'),
  notFunctionApp: file("not-function.mjs", "export default 42;\n"),
  regular: file("regular.txt", "not a directory\n"),
  directory: join(scratch, "a-directory"),
};
mkdirSync(files.directory);
let busy: Server;
let busyPort = 0;
/** A port nothing listens on: a duplicate written on it must be refused before it is bound. */
let freePort = 0;
beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  busyPort = (busy.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "0.0.0.0", resolve));
  freePort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
afterAll(() => {
  busy.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Case {
  name: string;
  args: () => string[];
  env?: NodeJS.ProcessEnv;
  code: number;
  /** What the error line must say (after "gateway: error: "). */
  says: RegExp;
  /** The hint line, when one is expected. */
  hint?: RegExp;
}

/**
 * A case that imports a config file or an app runs as a real process: under vitest an import
 * goes through vite's module runner, whose errors are not Node's.
 */
const importsModules = (args: string[]) => args.includes("-c") || args.includes("--check-config");

const B = "127.0.0.1:0"; // every case binds loopback unless it is about binding

const CASES: Case[] = [
  // ---- command line: values ----
  {
    name: "-w 0",
    args: () => ["-w", "0", APP],
    code: 2,
    says: /^--workers: '0' must be at least 1$/,
  },
  {
    name: "-w -1 (not 'ambiguous')",
    args: () => ["-w", "-1", APP],
    code: 2,
    says: /^--workers: '-1' must be at least 1$/,
  },
  {
    name: "-w abc",
    args: () => ["-w", "abc", APP],
    code: 2,
    says: /^--workers: 'abc' is not a number$/,
  },
  {
    name: "-w 1.5",
    args: () => ["-w", "1.5", APP],
    code: 2,
    says: /^--workers: '1.5' is not a whole number$/,
  },
  {
    name: "--timeout soon",
    args: () => ["--timeout", "soon", APP],
    code: 2,
    says: /^--timeout: 'soon' is not a number$/,
  },
  {
    name: "-t -5",
    args: () => ["-t", "-5", APP],
    code: 2,
    says: /^--timeout: '-5' must not be negative$/,
  },
  {
    name: "--graceful-timeout x",
    args: () => ["--graceful-timeout=x", APP],
    code: 2,
    says: /^--graceful-timeout: 'x' is not a number$/,
  },
  {
    name: "--keep-alive -1",
    args: () => ["--keep-alive", "-1", APP],
    code: 2,
    says: /^--keep-alive: '-1' must not be negative$/,
  },
  {
    name: "--max-requests -1",
    args: () => ["--max-requests", "-1", APP],
    code: 2,
    says: /^--max-requests: '-1'/,
  },
  {
    name: "jitter without max-requests",
    args: () => ["--max-requests-jitter", "5", APP],
    code: 2,
    says: /^--max-requests-jitter: needs --max-requests$/,
  },
  {
    name: "--backlog 0",
    args: () => ["--backlog", "0", APP],
    code: 2,
    says: /^--backlog: '0' must be at least 1$/,
  },
  {
    name: "--limit-request-line abc",
    args: () => ["--limit-request-line", "abc", APP],
    code: 2,
    says: /^--limit-request-line: 'abc' is not a number$/,
  },
  {
    name: "--limit-request-fields -3",
    args: () => ["--limit-request-fields", "-3", APP],
    code: 2,
    says: /^--limit-request-fields: '-3'/,
  },
  {
    name: "--limit-request-field-size 1e400",
    args: () => ["--limit-request-field-size", "1e400", APP],
    code: 2,
    says: /^--limit-request-field-size: '1e400' is not a number$/,
  },
  {
    name: "--limit-request-body -1",
    args: () => ["--limit-request-body", "-1", APP],
    code: 2,
    says: /^--limit-request-body: '-1'/,
  },
  {
    name: "--header-timeout NaN",
    args: () => ["--header-timeout", "NaN", APP],
    code: 2,
    says: /^--header-timeout: 'NaN' is not a number$/,
  },
  {
    name: "--request-timeout ''",
    args: () => ["--request-timeout=", APP],
    code: 2,
    says: /^--request-timeout: '' is not a number$/,
  },
  {
    name: "-b port out of range",
    args: () => ["-b", "localhost:99999", APP],
    code: 2,
    says: /^--bind: port '99999' in 'localhost:99999' is not a number from 0 to 65535$/,
  },
  {
    name: "-b host with a space",
    args: () => ["-b", "a b:80", APP],
    code: 2,
    says: /^--bind: 'a b' in 'a b:80' is not a host name or IP address$/,
  },
  {
    name: "-b unix: without path",
    args: () => ["-b", "unix:", APP],
    code: 2,
    says: /^--bind: 'unix:' has no socket path$/,
  },
  {
    name: "-b unix socket path too long",
    args: () => ["-b", `unix:/tmp/${"s".repeat(120)}`, APP],
    code: 2,
    says: /^--bind: socket path .* longer than the 107 bytes/,
  },
  {
    name: "-b [not-ipv6]:80",
    args: () => ["-b", "[nothere]:80", APP],
    code: 2,
    says: /^--bind: 'nothere' in '\[nothere\]:80' is not an IPv6 address$/,
  },
  {
    name: "-b port not a number",
    args: () => ["-b", "127.0.0.1:http", APP],
    code: 2,
    says: /^--bind: '127.0.0.1:http' is not HOST:PORT/,
  },
  {
    name: "-b fd:// without a number",
    args: () => ["-b", "fd://three", APP],
    code: 2,
    says: /^--bind: 'fd:\/\/three' is not fd:\/\/NUMBER, e\.g\. fd:\/\/3$/m,
  },
  {
    name: "-b fd://1: a standard stream",
    args: () => ["-b", "fd://1", APP],
    code: 2,
    says: /^--bind: 'fd:\/\/1': descriptors 0, 1 and 2 are standard input, output and error$/m,
  },
  {
    name: "--log-level loud",
    args: () => ["--log-level", "loud", APP],
    code: 2,
    says: /^--log-level: 'loud' is not one of debug, info/,
  },
  {
    name: "--forwarded-allow-ips bad IP",
    args: () => ["--forwarded-allow-ips", "10.0.0.300", APP],
    code: 2,
    says: /^--forwarded-allow-ips: not an IP address or network: '10.0.0.300'$/,
  },
  {
    name: "--forwarded-allow-ips /33",
    args: () => ["--forwarded-allow-ips", "10.0.0.0/33", APP],
    code: 2,
    says: /^--forwarded-allow-ips: bad network prefix/,
  },
  {
    name: "--metrics-bind x y",
    args: () => ["--metrics-bind", "x y", APP],
    code: 2,
    says: /^--metrics-bind: 'x y' in 'x y' is not a host name/,
  },
  {
    name: "--umask 999",
    args: () => ["--umask", "999", APP],
    code: 2,
    says: /^--umask: '999' is not a umask/,
  },
  {
    name: "-m abc",
    args: () => ["-m", "abc", APP],
    code: 2,
    says: /^--umask: 'abc' is not a umask/,
  },
  // ---- command line: words ----
  {
    name: "unknown option",
    args: () => ["--no-such-flag", APP],
    code: 2,
    says: /^--no-such-flag: unknown option$/,
    hint: /gateway --help/,
  },
  {
    name: "typo",
    args: () => ["--wrokers", "2", APP],
    code: 2,
    says: /^--wrokers: unknown option$/,
    hint: /did you mean --workers\?/,
  },
  {
    name: "--preload",
    args: () => ["--preload", APP],
    code: 2,
    says: /^--preload: Gunicorn option the gateway does not have$/,
    hint: /imports the app itself/,
  },
  {
    name: "-k sync",
    args: () => ["-k", "sync", APP],
    code: 2,
    says: /^-k: Gunicorn option/,
    hint: /one kind of worker/,
  },
  {
    name: "--worker-class=gevent",
    args: () => ["--worker-class=gevent", APP],
    code: 2,
    says: /^--worker-class: Gunicorn option/,
    hint: /one kind of worker/,
  },
  {
    name: "--threads 4",
    args: () => ["--threads", "4", APP],
    code: 2,
    says: /^--threads: Gunicorn option/,
    hint: /-w\/--workers/,
  },
  {
    name: "--user nobody",
    args: () => ["--user", "nobody", APP],
    code: 2,
    says: /^--user: Gunicorn option/,
    hint: /as the user it should run as/,
  },
  {
    name: "-g nogroup",
    args: () => ["-g", "nogroup", APP],
    code: 2,
    says: /^-g: Gunicorn option/,
    hint: /as the user it should run as/,
  },
  {
    name: "--daemon",
    args: () => ["--daemon", APP],
    code: 2,
    says: /^--daemon: Gunicorn option/,
    hint: /foreground under a supervisor/,
  },
  {
    name: "--log-file",
    args: () => ["--log-file", "x.log", APP],
    code: 2,
    says: /^--log-file: Gunicorn option/,
    hint: /--error-logfile/,
  },
  {
    name: "--limit-request-field_size",
    args: () => ["--limit-request-field_size", "9", APP],
    code: 2,
    says: /^--limit-request-field_size:/,
    hint: /--limit-request-field-size/,
  },
  {
    name: "--certfile",
    args: () => ["--certfile", "c.pem", APP],
    code: 2,
    says: /^--certfile: Gunicorn option/,
    hint: /TLS ends at nginx/,
  },
  {
    name: "--reload",
    args: () => ["--reload", APP],
    code: 2,
    says: /^--reload: Gunicorn option/,
    hint: /HUP/,
  },
  { name: "-w without a value", args: () => ["-w"], code: 2, says: /^--workers: needs a value$/ },
  {
    name: "--bind followed by an option",
    args: () => ["--bind", "--workers", "2", APP],
    code: 2,
    says: /^--bind: needs a value \(got the option --workers\)$/,
  },
  {
    name: "--check-config=yes",
    args: () => ["--check-config=yes", APP],
    code: 2,
    says: /^--check-config: takes no value$/,
  },
  {
    name: "two applications",
    args: () => [APP, "extra"],
    code: 2,
    says: /^command line: expected one application/,
    hint: /each with its value/,
  },
  {
    name: "no application",
    args: () => ["-b", B],
    code: 2,
    says: /^no application given$/,
    hint: /MODULE\[:EXPORT\]/,
  },
  // ---- environment ----
  {
    name: "PORT=abc",
    args: () => [APP],
    env: { PORT: "abc" },
    code: 2,
    says: /^\$PORT \(--bind\): port 'abc' is not a number from 0 to 65535$/,
  },
  {
    name: "PORT=99999",
    args: () => [APP],
    env: { PORT: "99999" },
    code: 2,
    says: /^\$PORT \(--bind\): port '99999' is not a number from 0 to 65535$/,
  },
  {
    name: "PORT=-1",
    args: () => [APP],
    env: { PORT: "-1" },
    code: 2,
    says: /^\$PORT \(--bind\): port '-1' is not a number from 0 to 65535$/,
  },
  {
    name: "WEB_CONCURRENCY=abc",
    args: () => ["-b", B, APP],
    env: { WEB_CONCURRENCY: "abc" },
    code: 2,
    says: /^\$WEB_CONCURRENCY \(--workers\): 'abc' is not a number$/,
  },
  {
    name: "WEB_CONCURRENCY=0",
    args: () => ["-b", B, APP],
    env: { WEB_CONCURRENCY: "0" },
    code: 2,
    says: /^\$WEB_CONCURRENCY \(--workers\): '0' must be at least 1$/,
  },
  {
    name: "WEB_CONCURRENCY=-2",
    args: () => ["-b", B, APP],
    env: { WEB_CONCURRENCY: "-2" },
    code: 2,
    says: /^\$WEB_CONCURRENCY \(--workers\): '-2' must be at least 1$/,
  },
  {
    name: "FORWARDED_ALLOW_IPS=bad",
    args: () => ["-b", B, APP],
    env: { FORWARDED_ALLOW_IPS: "bad" },
    code: 2,
    says: /^\$FORWARDED_ALLOW_IPS \(--forwarded-allow-ips\): not an IP address or network: 'bad'$/,
  },
  {
    name: "GATEWAY_CMD_ARGS -w 0",
    args: () => [APP],
    env: { GATEWAY_CMD_ARGS: "-w 0" },
    code: 2,
    says: /^\$GATEWAY_CMD_ARGS --workers: '0' must be at least 1$/,
  },
  {
    name: "GATEWAY_CMD_ARGS --preload",
    args: () => [APP],
    env: { GATEWAY_CMD_ARGS: "--preload" },
    code: 2,
    says: /^\$GATEWAY_CMD_ARGS --preload: Gunicorn option/,
    hint: /imports the app itself/,
  },
  {
    name: "GATEWAY_CMD_ARGS --bind",
    args: () => [APP],
    env: { GATEWAY_CMD_ARGS: "--bind" },
    code: 2,
    says: /^\$GATEWAY_CMD_ARGS --bind: needs a value$/,
  },
  // ---- config file ----
  {
    name: "config file syntax error",
    args: () => ["-c", files.syntaxConfig, APP],
    code: 2,
    says: /^config file .*syntax\.config\.js: cannot import: .*syntax\.config\.js:4:1: SyntaxError: Unexpected token '}'$/,
  },
  {
    name: "config file negative value",
    args: () => ["-c", files.negativeConfig, APP],
    code: 2,
    says: /^config file .*: max_requests: '-1' must not be negative$/,
  },
  {
    name: "config file typo",
    args: () => ["-c", files.typoConfig, APP],
    code: 2,
    says: /^config file .*: unknown setting 'wokers'$/,
    hint: /Gunicorn's names/,
  },
  {
    name: "config file preload_app",
    args: () => ["-c", files.gunicornConfig, APP],
    code: 2,
    says: /^config file .*: preload_app: Gunicorn setting/,
    hint: /imports the app itself/,
  },
  {
    name: "config file workers: 'many'",
    args: () => ["-c", files.stringWorkersConfig, APP],
    code: 2,
    says: /^config file .*: workers: 'many' is not a number$/,
  },
  {
    name: "config file bind: 42",
    args: () => ["-c", files.numberBindConfig, APP],
    code: 2,
    says: /^config file .*: bind: expected a string, got number$/,
  },
  {
    name: "config file throws",
    args: () => ["-c", files.throwingConfig, APP],
    code: 2,
    says: /^config file .*: cannot import: config boom \(at .*throws\.config\.js:2:7\)$/,
  },
  {
    name: "config file hook not a function",
    args: () => ["-c", files.hookConfig, APP],
    code: 2,
    says: /hook on_starting must be a function, not number$/,
  },
  {
    name: "config file missing",
    args: () => ["-c", join(scratch, "nope.js"), APP],
    code: 2,
    says: /^config file .*nope\.js: no such file$/,
  },
  // ---- this machine: paths and addresses (exit 3) ----
  {
    name: "--worker-tmp-dir missing",
    args: () => ["-b", B, "--worker-tmp-dir", "/nonexistent", APP],
    code: 3,
    says: /^--worker-tmp-dir: directory \/nonexistent does not exist$/,
  },
  {
    name: "--worker-tmp-dir a file",
    args: () => ["-b", B, "--worker-tmp-dir", files.regular, APP],
    code: 3,
    says: /^--worker-tmp-dir: .*regular\.txt is not a directory$/,
  },
  {
    name: "--error-logfile in a missing dir",
    args: () => ["-b", B, "--error-logfile", "/nonexistent/e.log", APP],
    code: 3,
    says: /^--error-logfile: directory \/nonexistent does not exist$/,
  },
  {
    name: "--access-logfile in a missing dir",
    args: () => ["-b", B, "--access-logfile", "/nonexistent/a.log", APP],
    code: 3,
    says: /^--access-logfile: directory \/nonexistent does not exist$/,
  },
  {
    name: "--error-logfile a directory",
    args: () => ["-b", B, "--error-logfile", files.directory, APP],
    code: 3,
    says: /^--error-logfile: .*a-directory is a directory$/,
  },
  {
    name: "--pid in a missing dir",
    args: () => ["-b", B, "--pid", "/nonexistent/g.pid", APP],
    code: 3,
    says: /^--pid: directory \/nonexistent does not exist$/,
  },
  {
    name: "--pid of a running process",
    args: () => ["-b", B, "--pid", file("running.pid", `${process.ppid}\n`), APP],
    code: 3,
    says: /^--pid: .*running\.pid names a running process/,
  },
  {
    name: "unix socket in a missing dir",
    args: () => ["-b", "unix:/nonexistent/dir/s.sock", APP],
    code: 3,
    says: /^--bind: directory \/nonexistent\/dir does not exist$/,
  },
  {
    name: "unix socket path is a file",
    args: () => ["-b", `unix:${files.regular}`, APP],
    code: 3,
    says: /^--bind: .*regular\.txt exists and is not a socket$/,
  },
  {
    name: "busy port",
    args: () => ["-b", `127.0.0.1:${busyPort}`, APP],
    code: 3,
    says: /^--bind: cannot listen on 127\.0\.0\.1:\d+: the address is in use by another process$/,
  },
  {
    name: "busy metrics port",
    args: () => ["-b", B, "--metrics-bind", `127.0.0.1:${busyPort}`, APP],
    code: 3,
    says: /^--metrics-bind: cannot listen on .*in use by another process$/,
  },
  {
    name: "metrics host does not resolve",
    args: () => ["-b", B, "--metrics-bind", "nonsense.invalid:9100", APP],
    code: 3,
    says: /^--metrics-bind: cannot listen on nonsense\.invalid:9100: (the host name does not resolve|no answer from the resolver)/,
  },
  {
    name: "not an address of this machine",
    args: () => ["-b", "192.0.2.1:8000", APP],
    code: 3,
    says: /^--bind: cannot listen on 192\.0\.2\.1:8000: the host is not an address of this machine$/,
  },
  {
    name: "metrics on a --bind address",
    args: () => ["-b", "127.0.0.1:8123", "--metrics-bind", "127.0.0.1:8123", APP],
    code: 2,
    says: /^--metrics-bind: 127\.0\.0\.1:8123 is also a --bind address$/,
  },
  {
    name: "the same --bind twice",
    args: () => ["-b", "127.0.0.1:8123", "-b", "127.0.0.1:8123", APP],
    code: 2,
    says: /^--bind: 127\.0\.0\.1:8123 is given twice$/,
  },
  // Duplicates are the same parsed address, however each is spelled.
  {
    name: "the same --bind twice, spelled :PORT and 0.0.0.0:PORT",
    args: () => ["-b", `:${freePort}`, "-b", `0.0.0.0:${freePort}`, APP],
    code: 2,
    says: /^--bind: 0\.0\.0\.0:\d+ is given twice$/,
  },
  {
    name: "metrics on a --bind address, its port with a leading zero",
    args: () => ["-b", `127.0.0.1:${freePort}`, "--metrics-bind", `127.0.0.1:0${freePort}`, APP],
    code: 2,
    says: /^--metrics-bind: 127\.0\.0\.1:0\d+ is also a --bind address$/,
  },
  {
    name: "$PORT's bind busy",
    args: () => [APP],
    env: { PORT: "BUSY" },
    code: 3,
    says: /^\$PORT \(--bind\): cannot listen on 0\.0\.0\.0:\d+: the address is in use/,
  },
  // ---- the app (exit 4) ----
  {
    name: "dotted module",
    args: () => ["-b", B, "app.hello:hello"],
    code: 4,
    says: /^app app\.hello: no such file or installed package$/,
    hint: /not a Python dotted module: did you mean app\/dist\/hello\.js:hello\?/,
  },
  {
    name: "path without extension",
    args: () => ["-b", B, "tests/fixtures/apps/slow"],
    code: 4,
    says: /^app tests\/fixtures\/apps\/slow: no such file$/,
    hint: /did you mean tests\/fixtures\/apps\/slow\.js\?/,
  },
  {
    name: "a .ts path",
    args: () => ["-b", B, "app/hello.ts"],
    code: 4,
    says: /^app app\/hello\.ts: Node 20 runs JavaScript, not TypeScript$/,
    hint: /did you mean app\/dist\/hello\.js\?/,
  },
  {
    name: "missing file",
    args: () => ["-b", B, "nowhere/app.js"],
    code: 4,
    says: /^app nowhere\/app\.js: no such file$/,
    hint: /with its extension/,
  },
  {
    name: "a directory",
    args: () => ["-b", B, files.directory],
    code: 4,
    says: /is a directory, not a module$/,
    hint: /name the module's file/,
  },
  {
    name: "factory call",
    args: () => ["-b", B, `${APP}:create_app()`],
    code: 4,
    says: /'create_app\(\)' is not a valid export name/,
    hint: /factory call/,
  },
  {
    name: "syntax error (check-config)",
    args: () => ["--check-config", "-b", B, files.syntaxApp],
    code: 4,
    says: /syntax-app\.mjs:2:14: SyntaxError: missing \) after argument list$/,
  },
  {
    name: "syntax error in an import",
    args: () => ["--check-config", "-b", B, files.importsSyntaxApp],
    code: 4,
    says: /imports-syntax\.mjs'.*syntax-app\.mjs:2:14: SyntaxError: missing \)/,
  },
  {
    name: "app throws at import",
    args: () => ["--check-config", "-b", B, files.throwingApp],
    code: 4,
    says: /: app boom \(at .*throwing-app\.mjs:2:7\)$/,
  },
  {
    name: "no such export",
    args: () => ["--check-config", "-b", B, `${APP}:nope`],
    code: 4,
    says: /has no export 'nope'$/,
    hint: /its exports: default/,
  },
  {
    name: "export not a function",
    args: () => ["--check-config", "-b", B, files.notFunctionApp],
    code: 4,
    says: /is number, not an application function$/,
  },
];

function envFor(testCase: Case): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...testCase.env };
  if (env.PORT === "BUSY") env.PORT = String(busyPort);
  return env;
}

/** The shape every error must have: one line, at most one hint, no stack frame. */
function expectOneLine(stderr: string, testCase: Case): void {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  expect(stderr, "no stack frames").not.toMatch(/^\s+at /m);
  expect(lines[0]).toMatch(/^gateway: error: /);
  expect(lines[0]!.slice("gateway: error: ".length)).toMatch(testCase.says);
  if (testCase.hint === undefined) expect(lines, stderr).toHaveLength(1);
  else {
    expect(lines, stderr).toHaveLength(2);
    expect(lines[1]).toMatch(/^gateway: hint: /);
    expect(lines[1]).toMatch(testCase.hint);
  }
}

describe("bad invocations, through prepare() (what the command line runs first)", () => {
  it(`has dozens of cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(80);
  });

  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))(
    "%s",
    async (_name, testCase) => {
      if (importsModules(testCase.args())) {
        const result = await runCli(testCase.args(), envFor(testCase));
        expect(result.code, result.stderr).toBe(testCase.code);
        expectOneLine(result.stderr, testCase);
        return;
      }
      const outcome = await prepare(testCase.args(), { GATEWAY_CMD_ARGS: "", ...envFor(testCase) });
      expect("exitCode" in outcome && outcome.exitCode, JSON.stringify(outcome)).toBe(
        testCase.code,
      );
      if ("exitCode" in outcome) expectOneLine(outcome.stderr, testCase);
    },
  );
});

/** Runs the real command line; kills it if it has not exited after `limitMs` (a hang fails). */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  limitMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; killed: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, WEB_CONCURRENCY: "", GATEWAY_CMD_ARGS: "", PORT: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, limitMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started, killed });
    });
  });
}

describe("a representative subset, as real processes starting for real", () => {
  const subset = [
    "-w -1 (not 'ambiguous')",
    "PORT=abc",
    "WEB_CONCURRENCY=0",
    "FORWARDED_ALLOW_IPS=bad",
    "GATEWAY_CMD_ARGS --preload",
    "config file syntax error",
    "--worker-tmp-dir missing",
    "--error-logfile in a missing dir",
    "--access-logfile in a missing dir",
    "busy metrics port",
    "the same --bind twice, spelled :PORT and 0.0.0.0:PORT",
    "metrics on a --bind address, its port with a leading zero",
    "-k sync",
    "dotted module",
    "syntax error in an import",
  ];
  it.each(subset)("%s", async (name) => {
    const testCase = CASES.find((candidate) => candidate.name === name)!;
    const result = await runCli(testCase.args(), envFor(testCase));
    expect(result.killed, "it stops by itself").toBe(false);
    expect(result.code).toBe(testCase.code);
    expectOneLine(result.stderr, testCase);
  });

  it("an app with a syntax error: the worker says where (file:line:col), the master stops with 4", async () => {
    const result = await runCli(["-b", B, files.importsSyntaxApp]);
    expect(result.killed).toBe(false);
    expect(result.code).toBe(4);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const errors = result.stderr.split("\n").filter((line) => line.includes("[ERROR]"));
    expect(errors[0]).toMatch(/syntax-app\.mjs:2:14: SyntaxError: missing \) after argument list$/);
  });

  it("an unexpected failure is one line, and its stack only with --log-level debug", async () => {
    // A config file hook that throws in on_starting is logged and the server goes on; a config
    // file whose getter throws while the settings are read is a failure nobody planned for.
    const getterConfig = file(
      "getter.config.js",
      'export default { get workers() { throw new TypeError("getter boom"); } };\n',
    );
    for (const [extra, stack] of [
      [[], false],
      [["--log-level", "debug"], true],
    ] as const) {
      const result = await runCli(["-c", getterConfig, "-b", B, ...extra, APP]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("getter boom");
      expect(/^\s+at /m.test(result.stderr)).toBe(stack);
    }
  });
});
