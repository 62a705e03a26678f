/**
 * Starts the stack a newcomer runs, on loopback ports: the gateway (pre-fork when the CLI has
 * `--workers`) serving the demo app (or the hello page until the demo exists), and Debian's nginx
 * in front of it when nginx is installed. Everything started here is stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../helpers/net.js";
import { startNginx, type RunningNginx } from "../helpers/nginx.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "gateway/dist/cli.js");

/**
 * Where a browser test saves its screenshot `name`: docs/images/ (the picture the README shows)
 * when UPDATE_SCREENSHOTS=1, else a scratch directory — the page shows this run's host name and
 * worker pid, so a plain test run would otherwise leave a changed tracked file behind.
 */
export function screenshotPath(name: string): string {
  const folder =
    process.env["UPDATE_SCREENSHOTS"] === "1"
      ? join(ROOT, "docs/images")
      : mkdtempSync(join(tmpdir(), "foobar-screenshot-"));
  mkdirSync(folder, { recursive: true });
  return join(folder, name);
}

export interface Stack {
  /** Where the browser goes: nginx when it is in front, else the gateway itself. */
  url: string;
  /** nginx's HTTPS (HTTP/2) listener, with a self-signed certificate; unset without nginx. */
  httpsUrl?: string;
  /** True when nginx (with the project's nginx/foobar.conf) is in front. */
  viaNginx: boolean;
  /** The process started as the gateway: the arbiter (master) when pre-forking. */
  gatewayPid: number;
  workers: number;
  /** `MODULE:EXPORT` the gateway serves. */
  app: string;
  /** Everything the gateway and nginx wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The gateway's long options, read from `--help` so the test follows the CLI as it grows. */
export function gatewayOptions(): string[] {
  const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
  return [...help.stdout.matchAll(/--([a-z][a-z0-9-]*)/g)].map((match) => match[1]!);
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`process exited (${child.exitCode}) before listening:\n${log()}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`, { headers: { Accept: "*/*" } });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after 30s:\n${log()}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });
}

export async function startStack(options: { nginx: boolean }): Promise<Stack> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const demo = join(ROOT, "app/dist/index.js");
  const app = existsSync(demo) ? "app/dist/index.js" : "app/dist/hello-page.js:helloPage";
  const workers = gatewayOptions().includes("workers") ? 2 : 1;
  const gatewayPort = await freePort();
  const args = [CLI, "-b", `127.0.0.1:${gatewayPort}`];
  if (workers > 1) args.push("--workers", String(workers));
  args.push(app);

  let output = "";
  const gateway = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  gateway.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  gateway.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let nginx: RunningNginx | undefined;
  const stop = async () => {
    await nginx?.stop();
    await stopProcess(gateway);
  };

  try {
    await waitForPort(gatewayPort, gateway, () => output);
    let url = `http://127.0.0.1:${gatewayPort}`;
    let httpsUrl: string | undefined;
    if (options.nginx) {
      const tlsPort = await freePort();
      nginx = await startNginx({ upstreamPort: gatewayPort, tlsPort });
      url = `http://127.0.0.1:${nginx.port}`;
      httpsUrl = `https://127.0.0.1:${tlsPort}`;
    }
    return {
      url,
      httpsUrl,
      viaNginx: options.nginx,
      gatewayPid: gateway.pid!,
      workers,
      app,
      output: () => output + (nginx?.output() ?? ""),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
