/**
 * The project's nginx (nginx/foobar.conf, Debian's nginx binary) in front of a gateway, on
 * loopback, for the "through nginx" runs. The config's upstream, listen and access-log lines are
 * rewritten to this run's ports and a temporary directory, as tests/integration/nginx does;
 * nginx runs in the foreground as a child of the test process and is killed by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CONFIG = new URL("../../nginx/foobar.conf", import.meta.url);

export const NGINX = "/usr/sbin/nginx";

export function nginxAvailable(): boolean {
  return existsSync(NGINX);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface RunningNginx {
  port: number;
  errorLog: string;
  stop(): Promise<void>;
}

export async function startNginx(upstreamPort: number): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), "foobar-nginx-"));
  chmodSync(dir, 0o755);
  // Workers may run as nobody (when the test runs as root): they write request bodies here.
  for (const sub of ["body", "proxy"]) {
    mkdirSync(join(dir, sub));
    chmodSync(join(dir, sub), 0o777);
  }
  const port = await freePort();
  const errorLog = join(dir, "error.log");
  const site = readFileSync(CONFIG, "utf8")
    .replace("server gateway:8000;", `server 127.0.0.1:${upstreamPort};`)
    .replace("listen 8000 default_server;", `listen 127.0.0.1:${port} default_server;`)
    .replace("/var/log/nginx/access.log", join(dir, "access.log"));
  if (!site.includes(`server 127.0.0.1:${upstreamPort};`) || !site.includes(`127.0.0.1:${port}`))
    throw new Error("nginx/foobar.conf changed: its upstream or listen line was not rewritten");
  writeFileSync(join(dir, "foobar.conf"), site);
  const config = `
daemon off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${errorLog} info;
events { worker_connections 256; }
http {
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "body")};
  uwsgi_temp_path ${join(dir, "body")};
  scgi_temp_path ${join(dir, "body")};
  include ${join(dir, "foobar.conf")};
}
`;
  const configPath = join(dir, "nginx.conf");
  writeFileSync(configPath, config);
  const child: ChildProcess = spawn(NGINX, ["-p", dir, "-c", configPath, "-e", errorLog], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(port, child, () => stderr);
  return {
    port,
    errorLog,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", done);
        child.kill("SIGTERM");
      }),
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import("node:net");
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${stderr()}`);
}
