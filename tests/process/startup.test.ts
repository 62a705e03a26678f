/**
 * What start-up does with the environment a Node user brings: `npm start` honours $PORT (an
 * explicit --bind replaces it, as Gunicorn's --bind replaces $PORT), and --umask decides who
 * may connect to a unix socket (nginx running as another user).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { GUNICORN_ONLY } from "../../gateway/settings.js";
import { APPS, GatewayProcess } from "./gateway-process.js";

const scratch = mkdtempSync(join(tmpdir(), "gateway-startup-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const started: GatewayProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** npm start's command after its build step, run by the shell npm would use. */
function npmStartCommand(): string {
  const script = (
    JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }
  ).scripts.start;
  const [build, command] = script.split(" && ");
  expect(build).toBe("npm run build");
  return command!;
}

/** Runs npm start's command with `extra` arguments (what `npm start -- ARGS` appends). */
function startLikeNpm(env: NodeJS.ProcessEnv, extra: string[]) {
  const child = spawn("sh", ["-c", `${npmStartCommand()} "$@"`, "npm-start", ...extra], {
    env: { ...process.env, WEB_CONCURRENCY: "", GATEWAY_CMD_ARGS: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stop() reaches the gateway whether sh exec'd it or not
  });
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 20_000;
    while (!pattern.test(log)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`never logged ${pattern}:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    process.kill(-child.pid!, "SIGTERM");
    await exited;
    await waitFor(/Shutting down: Master/); // the master stopped gracefully, not killed
  };
  return { child, exited, waitFor, stop, log: () => log };
}

describe("npm start", () => {
  it("serves on 0.0.0.0:$PORT, and with --bind only there (no second listener)", async () => {
    const port = await freePort();
    const withPort = startLikeNpm({ PORT: String(port) }, ["-w", "1"]);
    await withPort.waitFor(/Listening at: /);
    expect(withPort.log()).toContain(`Listening at: http://0.0.0.0:${port}`);
    await withPort.stop();

    const withBind = startLikeNpm({ PORT: "8000" }, ["-w", "1", "--bind", "127.0.0.1:0"]);
    await withBind.waitFor(/Listening at: /);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a second listener would show now
    expect(withBind.log().match(/Listening at: /g)).toHaveLength(1);
    expect(withBind.log()).toMatch(/Listening at: http:\/\/127\.0\.0\.1:\d+/);
    await withBind.stop();
  });

  it("defaults $PORT to 8000", () => {
    expect(npmStartCommand()).toMatch(/^PORT=\$\{PORT:-8000\} node gateway\/dist\/cli\.js /);
    expect(npmStartCommand()).not.toContain("--bind");
  });
});

describe("--umask", () => {
  it.each([
    [[], 0o777],
    [["--umask", "007"], 0o770],
    [["-m", "0o077"], 0o700],
  ] as const)("%j gives the unix socket mode %o", async (flags, mode) => {
    const socketPath = join(scratch, `umask-${mode.toString(8)}.sock`);
    const server = new GatewayProcess(["-b", `unix:${socketPath}`, ...flags, `${APPS}/slow.js`]);
    started.push(server);
    await server.waitForLog(/Listening at: unix:/);
    expect(statSync(socketPath).mode & 0o777).toBe(mode);
    server.signal("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });
});

describe("docs/gateway.md", () => {
  it("names every Gunicorn option the gateway refuses with a hint", () => {
    const docs = readFileSync("docs/gateway.md", "utf8");
    for (const foreign of GUNICORN_ONLY)
      for (const flag of foreign.flags.filter((word) => word.startsWith("--")))
        expect(docs, flag).toContain(`\`${flag}\``);
  });
});
