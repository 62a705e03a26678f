/**
 * The project's nginx (nginx/foobar.conf and nginx/edge.conf, Debian's nginx binary) in front of
 * a gateway, on loopback, without Docker. nginx/loopback.ts rewrites the site's upstream, listen,
 * /wsgi/ and access-log lines to this run's ports and a temporary directory; nginx runs in the foreground
 * as a child of the test process and is stopped (and its directory removed) by `stop()`.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loopbackCertificate, loopbackSite } from "../../nginx/loopback.js";
import { accepts, freePort } from "./net.js";

const CONFIG = new URL("../../nginx/foobar.conf", import.meta.url);
const EDGE = new URL("../../nginx/edge.conf", import.meta.url);

export const NGINX = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].find(
  existsSync,
);

/** Why nginx cannot run here (`null` when it can). */
export function nginxProblem(): string | null {
  if (NGINX === undefined) return "no nginx binary (apt-get install nginx)";
  try {
    execFileSync(NGINX, ["-v"], { stdio: "ignore" });
    return null;
  } catch (error) {
    return `${NGINX} -v failed: ${(error as Error).message}`;
  }
}

export interface NginxOptions {
  /** The gateway's port on 127.0.0.1. */
  upstreamPort: number;
  /** Gunicorn's port on 127.0.0.1, for the /wsgi/ location (unset: a closed port, so /wsgi/ is 502). */
  wsgiPort?: number;
  /**
   * More directives for the server block, after its listen line; given nginx's directory, for
   * the files they name.
   */
  serverDirectives?: (dir: string) => string;
  /**
   * The edge's rules for the http block, given nginx's directory: by default the shipped
   * nginx/edge.conf, included as compose.yaml, docker/stack.yaml and k8s/ include it, so the
   * tests exercise what ships (a test of the edge itself passes a variant).
   */
  edge?: (dir: string) => string;
  /** Serve HTTPS (HTTP/2) too, on this port, with a throw-away certificate for 127.0.0.1. */
  tlsPort?: number;
}

export interface RunningNginx {
  port: number;
  /** nginx's prefix directory: its config, logs and temp files. */
  dir: string;
  errorLog: string;
  accessLog: string;
  /** What nginx wrote to stderr and its error log, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startNginx({
  upstreamPort,
  wsgiPort,
  serverDirectives,
  edge = () => `include ${EDGE.pathname};`,
  tlsPort,
}: NginxOptions): Promise<RunningNginx> {
  if (NGINX === undefined) throw new Error("no nginx binary (apt-get install nginx)");
  const dir = mkdtempSync(join(tmpdir(), "foobar-nginx-"));
  chmodSync(dir, 0o755);
  // Workers may run as nobody (when the test runs as root): they write request bodies here.
  for (const sub of ["body", "proxy"]) {
    mkdirSync(join(dir, sub));
    chmodSync(join(dir, sub), 0o777);
  }
  const port = await freePort();
  const errorLog = join(dir, "error.log");
  const accessLog = join(dir, "access.log");
  const site = loopbackSite(readFileSync(CONFIG, "utf8"), {
    port,
    upstreamPort,
    logDir: dir,
    wsgiPort,
    serverDirectives: serverDirectives?.(dir),
    tls: tlsPort === undefined ? undefined : { port: tlsPort, ...loopbackCertificate(dir) },
  });
  writeFileSync(join(dir, "foobar.conf"), site);
  const configPath = join(dir, "nginx.conf");
  writeFileSync(
    configPath,
    `daemon off;
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
  ${edge(dir)}
  include ${join(dir, "foobar.conf")};
}
`,
  );
  const child = spawn(NGINX, ["-p", dir, "-c", configPath, "-e", errorLog], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const output = () => stderr + (existsSync(errorLog) ? readFileSync(errorLog, "utf8") : "");
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(force);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once("exit", done);
      child.kill("SIGTERM");
    });

  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const problem = `nginx did not listen on ${port}: ${output()}`;
      await stop();
      throw new Error(problem);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, dir, errorLog, accessLog, output, stop };
}
