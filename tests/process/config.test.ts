/**
 * Settings from every source, their precedence and errors; hooks from a config file; the
 * access log, pidfile, USR1 and Prometheus metrics of a running gateway.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { SETTINGS } from "../../gateway/settings.js";
import { APPS, CLI, GatewayProcess, get, waitUntil } from "./gateway-process.js";

// Real processes on a shared 2-core machine: booting one can take seconds under load. The
// assertions are about behaviour; this only keeps a slow run from being cut off.
vi.setConfig({ testTimeout: 90_000 });

const scratch = mkdtempSync(join(tmpdir(), "gateway-config-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const started: GatewayProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

/** Runs the CLI to completion. */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, WEB_CONCURRENCY: "", GATEWAY_CMD_ARGS: "", ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function printed(stdout: string, name: string): string {
  return new RegExp(`^${name} += (.*)$`, "m").exec(stdout)?.[1] ?? "";
}

describe("settings", () => {
  it("--help lists every option with its default", async () => {
    const { code, stdout } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const spec of SETTINGS) {
      if (spec.flag === undefined) continue;
      expect(stdout).toContain(`--${spec.flag}`);
      expect(stdout).toContain(`[default: ${spec.defaultText}]`);
    }
  });

  it("docs/gateway.md documents every setting, its flags and its default", () => {
    const docs = readFileSync("docs/gateway.md", "utf8");
    for (const spec of SETTINGS) {
      const row = docs.split("\n").find((line) => line.startsWith(`| \`${spec.name}\``));
      expect(row, spec.name).toBeDefined();
      if (spec.flag !== undefined) expect(row).toContain(`--${spec.flag}`);
      expect(row).toContain(spec.defaultText.replace(/\|/g, "\\|"));
    }
  });

  it("precedence: defaults < config file < $GATEWAY_CMD_ARGS < command line", async () => {
    const config = join(scratch, "precedence.config.js");
    writeFileSync(
      config,
      "export default { workers: 3, timeout: 7, keepalive: 5, bind: ['127.0.0.1:9001'] };\n",
    );
    const app = `${APPS}/slow.js`;
    const fileOnly = await cli(["-c", config, "--print-config", app]);
    expect(printed(fileOnly.stdout, "workers")).toBe("3");
    expect(printed(fileOnly.stdout, "graceful_timeout")).toBe("30"); // default
    const env = { GATEWAY_CMD_ARGS: "-w 2 --timeout 9" };
    const withEnv = await cli(["-c", config, "--print-config", app], env);
    expect(printed(withEnv.stdout, "workers")).toBe("2");
    expect(printed(withEnv.stdout, "keepalive")).toBe("5");
    const withCli = await cli(["-c", config, "-w", "4", "--print-config", app], env);
    expect(printed(withCli.stdout, "workers")).toBe("4");
    expect(printed(withCli.stdout, "timeout")).toBe("9");
    expect(printed(withCli.stdout, "bind")).toBe('["127.0.0.1:9001"]');
  });

  it("environment defaults: $WEB_CONCURRENCY, $PORT, $FORWARDED_ALLOW_IPS", async () => {
    const { stdout } = await cli(["--print-config", "x.js"], {
      WEB_CONCURRENCY: "5",
      PORT: "8123",
      FORWARDED_ALLOW_IPS: "10.0.0.0/8",
    });
    expect(printed(stdout, "workers")).toBe("5");
    expect(printed(stdout, "bind")).toBe('["0.0.0.0:8123"]');
    expect(printed(stdout, "forwarded_allow_ips")).toBe('"10.0.0.0/8"');
  });

  it.each([
    [["-w", "0"], "--workers: '0' must be at least 1"],
    [["--timeout", "soon"], "--timeout: 'soon' is not a number"],
    [
      ["-b", "localhost:99999"],
      "--bind: port '99999' in 'localhost:99999' is not a number from 0 to 65535",
    ],
    [["--log-level", "loud"], "--log-level: 'loud' is not one of"],
    [["--forwarded-allow-ips", "10.0.0.300"], "--forwarded-allow-ips:"],
    [["--no-such-flag"], "--no-such-flag: unknown option"],
  ])("bad value %j gives one line naming the option", async (args, message) => {
    const { code, stderr } = await cli([...args, "app.js"]);
    expect(code).toBe(2);
    // One line, and at most a hint after it.
    expect(
      stderr
        .trim()
        .split("\n")
        .filter((line) => !line.startsWith("gateway: hint: ")),
    ).toHaveLength(1);
    expect(stderr).toContain(message);
  });

  it("a bad config file value names the file and the setting", async () => {
    const config = join(scratch, "bad.config.js");
    writeFileSync(config, "export const max_requests = -1;\nexport const wokers = 2;\n");
    const { code, stderr } = await cli(["-c", config, "app.js"]);
    expect(code).toBe(2);
    // One line, and at most a hint after it.
    expect(
      stderr
        .trim()
        .split("\n")
        .filter((line) => !line.startsWith("gateway: hint: ")),
    ).toHaveLength(1);
    expect(stderr).toMatch(
      /bad\.config\.js: (max_requests: '-1' must not be negative|unknown setting 'wokers')/,
    );
  });

  it("--check-config checks what start-up checks and says what it checked; 4 for an app that cannot load", async () => {
    const ok = await cli(["--check-config", "-b", "127.0.0.1:0", `${APPS}/slow.js`], {
      WEB_CONCURRENCY: "3",
    });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(
      /^gateway: settings: all \d+ checked, from defaults, \$WEB_CONCURRENCY, command line$/m,
    );
    expect(ok.stdout).toMatch(/^gateway: app: .*slow\.js → .*slow\.js$/m);
    expect(ok.stdout).toMatch(/^gateway: --worker-tmp-dir: .* is writable$/m);
    expect(ok.stdout).toMatch(/^gateway: --bind: 127\.0\.0\.1:0 is free$/m);
    expect(ok.stdout).toMatch(/^gateway: app: .*slow\.js imported, its export is a function$/m);
    expect(ok.stdout).toMatch(/^gateway: configuration and app are OK\n$/m);
    // The same check start-up makes: a path start-up could not use fails --check-config too.
    const badPath = await cli([
      "--check-config",
      "-b",
      "127.0.0.1:0",
      "--worker-tmp-dir",
      "/nonexistent",
      `${APPS}/slow.js`,
    ]);
    expect(badPath.code).toBe(3);
    const broken = await cli(["--check-config", "-b", "127.0.0.1:0", `${APPS}/broken.js`]);
    expect(broken.code).toBe(4);
    expect(broken.stderr).toMatch(
      /^gateway: error: .*this app is broken on purpose \(at .*broken\.js:2:7\)\n$/,
    );
  });
});

describe("a running gateway", () => {
  it("calls the config file's hooks at their moments", async () => {
    const events = join(scratch, "events.log");
    const config = join(scratch, "hooks.config.js");
    writeFileSync(
      config,
      `import { appendFileSync } from "node:fs";
const note = (text) => appendFileSync(${JSON.stringify(events)}, text + "\\n");
export const workers = 1;
export function on_starting() { note("on_starting"); }
export function when_ready() { note("when_ready"); }
export function pre_fork() { note("pre_fork"); }
export function post_fork() { note("post_fork"); }
export function post_worker_init() { note("post_worker_init"); }
export function pre_request(worker, request) { note("pre_request " + request.url); }
export function post_request(worker, request, environ, response) { note("post_request " + response.status); }
export function nworkers_changed(server, n, old) { note("nworkers_changed " + n + " " + old); }
export function on_reload() { note("on_reload"); }
export function child_exit() { note("child_exit"); }
export function worker_exit() { note("worker_exit"); }
export function on_exit() { note("on_exit"); }
`,
    );
    const server = new GatewayProcess(["-b", "127.0.0.1:0", "-c", config, `${APPS}/slow.js`]);
    started.push(server);
    await server.ready(1);
    await get(server.port, "/hooked");
    server.signal("SIGTERM");
    expect((await server.exited).code).toBe(0);
    const seen = readFileSync(events, "utf8").trim().split("\n");
    expect(seen).toEqual(
      expect.arrayContaining([
        "on_starting",
        "nworkers_changed 1 null",
        "pre_fork",
        "post_fork",
        "post_worker_init",
        "when_ready",
        "pre_request /hooked",
        "post_request 200",
        "worker_exit",
        "child_exit",
        "on_exit",
      ]),
    );
    expect(seen.indexOf("on_starting")).toBe(0);
    expect(seen.at(-1)).toBe("on_exit");
  });

  it("writes the access log, the pidfile, and reopens logs on USR1", async () => {
    const access = join(scratch, "access.log");
    const pidfile = join(scratch, "gateway.pid");
    const server = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "--pid",
      pidfile,
      "--access-logfile",
      access,
      "--access-logformat",
      '%(h)s "%(r)s" %(s)s %(b)s %({x-trace}i)s %(D)s',
      `${APPS}/slow.js`,
    ]);
    started.push(server);
    await server.ready(1);
    expect(readFileSync(pidfile, "utf8").trim()).toBe(String(server.pid));
    await new Promise<void>((resolve, reject) => {
      import("node:http").then(({ request }) => {
        const req = request(
          { host: "127.0.0.1", port: server.port, path: "/a?b=1", headers: { "X-Trace": "t-1" } },
          (response) => response.resume().on("end", resolve),
        );
        req.on("error", reject).end();
      }, reject);
    });
    await waitUntil(() => existsSync(access) && readFileSync(access, "utf8").includes("t-1"));
    expect(readFileSync(access, "utf8")).toMatch(
      /^127\.0\.0\.1 "GET \/a\?b=1 HTTP\/1\.1" 200 \d+ t-1 \d+\n$/,
    );

    renameSync(access, `${access}.1`); // what logrotate does
    server.signal("SIGUSR1");
    await waitUntil(async () => {
      await get(server.port, "/after-rotation");
      return existsSync(access) && readFileSync(access, "utf8").includes("/after-rotation");
    });
    server.signal("SIGTERM");
    await server.exited;
    expect(existsSync(pidfile)).toBe(false);
  });

  it("binds a unix socket, and reuses one left behind by a killed master", async () => {
    const socketPath = join(scratch, "gateway.sock");
    const ask = () =>
      new Promise<string>((resolve, reject) => {
        import("node:http").then(({ request }) => {
          request({ socketPath, path: "/" }, (response) => {
            let body = "";
            response.on("data", (chunk: Buffer) => (body += chunk.toString()));
            response.on("end", () => resolve(body));
          })
            .on("error", reject)
            .end();
        }, reject);
      });
    const first = new GatewayProcess(["-b", `unix:${socketPath}`, `${APPS}/slow.js`]);
    started.push(first);
    await first.waitForLog(/Listening at: unix:/);
    expect(await ask()).toMatch(/^pid=\d+/);
    await first.kill(); // SIGKILL: the socket file stays behind
    expect(existsSync(socketPath)).toBe(true);

    const second = new GatewayProcess(["-b", `unix:${socketPath}`, `${APPS}/slow.js`]);
    started.push(second);
    await second.waitForLog(/Listening at: unix:/);
    expect(await ask()).toMatch(/^pid=\d+/);
    second.signal("SIGTERM");
    expect((await second.exited).code).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
  });

  it("serves Prometheus metrics aggregated across workers on --metrics-bind", async () => {
    const server = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "-w",
      "2",
      "--metrics-bind",
      "127.0.0.1:0",
      `${APPS}/slow.js`,
    ]);
    started.push(server);
    await server.ready(2);
    const [match] = await server.waitForLog(/Serving metrics at: http:\/\/127\.0\.0\.1:(\d+)/);
    const metricsPort = Number(match![1]);
    const [victim] = await server.workerPids();
    process.kill(victim!, "SIGKILL");
    await server.waitForLog(/Booting worker with pid/, 3);
    await waitUntil(async () => (await server.workerPids()).length === 2);
    for (let i = 0; i < 20; i++) await get(server.port, "/");
    // The master asks every worker for its numbers; one still booting (slow on a busy machine)
    // does not answer yet, and the answer then holds only the master's own metrics. Ask again
    // until every worker has answered: the sum must be exact.
    let text = "";
    await waitUntil(async () => {
      text = (await get(metricsPort, "/metrics")).body;
      return text.includes("gateway_http_requests_total");
    }, 30_000);
    expect(text).toMatch(/gateway_http_requests_total\{status="200"\} 20\n/);
    expect(text).toContain("gateway_http_request_duration_seconds_bucket");
    expect(text).toMatch(/gateway_workers 2/);
    expect(text).toMatch(/gateway_worker_restarts_total\{reason="signal"\} 1/);
  });
});
