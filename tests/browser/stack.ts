/**
 * Starts the stack a newcomer runs, on loopback ports: the gateway (pre-fork when the CLI has
 * `--workers`) serving the demo app (or the hello page until the demo exists), and Debian's nginx
 * in front of it when nginx is installed. Everything started here is stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/gateway/cli.js");
export const NGINX = "/usr/sbin/nginx";

export interface Stack {
  /** Where the browser goes: nginx when it is in front, else the gateway itself. */
  url: string;
  viaNginx: boolean;
  /** Whether nginx runs the project's nginx/foobar.conf (or a stand-in until it exists). */
  projectNginxConfig: boolean;
  /** The process started as the gateway: the arbiter (master) when pre-forking. */
  gatewayPid: number;
  workers: number;
  /** `MODULE:EXPORT` the gateway serves. */
  app: string;
  /** Everything the gateway and nginx wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A free loopback port (the CLI needs a number it can log; nginx needs one to proxy to). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
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

const PROJECT_NGINX_CONFIG = join(ROOT, "nginx/foobar.conf");

/**
 * The project's nginx config (an `http {}` include), moved to loopback ports: its upstream
 * `server` and its `listen` are the two lines meant to be rewritten, and the access log goes to
 * the test's own directory. Until that config exists, a minimal proxy config stands in.
 */
function siteConfig(listen: number, upstream: number, prefix: string): string {
  if (!existsSync(PROJECT_NGINX_CONFIG))
    return `upstream gateway { server 127.0.0.1:${upstream}; }
server {
  listen 127.0.0.1:${listen};
  location / {
    proxy_pass http://gateway;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
  }
}
`;
  const project = readFileSync(PROJECT_NGINX_CONFIG, "utf8");
  const rewritten = project
    .replace(/^(\s*server\s+)\S+:\d+(\s*;)/m, `$1127.0.0.1:${upstream}$2`)
    .replace(/^(\s*listen\s+)\d+/m, `$1127.0.0.1:${listen}`)
    .replace(/^(\s*access_log\s+)\/\S+/m, `$1${prefix}/access.log`);
  if (!rewritten.includes(`127.0.0.1:${upstream}`) || !rewritten.includes(`127.0.0.1:${listen}`))
    throw new Error(`${PROJECT_NGINX_CONFIG}: cannot find its upstream server and listen lines`);
  return rewritten;
}

/** The main nginx.conf: a foreground nginx whose files all live under `prefix`. */
function nginxConfig(prefix: string): string {
  return `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/site.conf;
}
`;
}

export async function startStack(options: { nginx: boolean }): Promise<Stack> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const demo = join(ROOT, "dist/app/index.js");
  const app = existsSync(demo) ? "dist/app/index.js" : "dist/app/hello-page.js:helloPage";
  const workers = gatewayOptions().includes("workers") ? 2 : 1;
  const gatewayPort = await freePort();
  const args = [CLI, "-b", `127.0.0.1:${gatewayPort}`];
  if (workers > 1) args.push("--workers", String(workers));
  args.push(app);

  let output = "";
  const collect = (child: ChildProcess) => {
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  };
  const gateway = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  collect(gateway);
  const children: ChildProcess[] = [gateway];
  let prefix: string | undefined;
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child);
    if (prefix !== undefined) rmSync(prefix, { recursive: true, force: true });
  };

  try {
    await waitForPort(gatewayPort, gateway, () => output);
    let url = `http://127.0.0.1:${gatewayPort}`;
    if (options.nginx) {
      prefix = mkdtempSync(join(tmpdir(), "foobar-nginx-"));
      // nginx's workers drop root privileges: they must be able to reach the temp dirs.
      chmodSync(prefix, 0o755);
      const nginxPort = await freePort();
      writeFileSync(join(prefix, "site.conf"), siteConfig(nginxPort, gatewayPort, prefix));
      writeFileSync(join(prefix, "nginx.conf"), nginxConfig(prefix));
      const nginx = spawn(NGINX, ["-p", prefix, "-e", "stderr", "-c", join(prefix, "nginx.conf")], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      collect(nginx);
      children.push(nginx);
      await waitForPort(nginxPort, nginx, () => output);
      url = `http://127.0.0.1:${nginxPort}`;
    }
    return {
      url,
      viaNginx: options.nginx,
      projectNginxConfig: options.nginx && existsSync(PROJECT_NGINX_CONFIG),
      gatewayPid: gateway.pid!,
      workers,
      app,
      output: () => output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
