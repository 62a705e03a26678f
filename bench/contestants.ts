/**
 * The contestants: every server serves the same 13-byte `Hello, World!` on 127.0.0.1.
 * Each says how to start it on a given port, or why it cannot run on this machine (skipped).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loopbackSite } from "../nginx/loopback.js";
import type { Command } from "./processes.js";

export interface Contestant {
  id: string;
  label: string;
  workers: number;
  /** The path the hello body is served at. */
  path: string;
  /** Why it cannot run here, or undefined. */
  skipReason: string | undefined;
  /** The processes to start for `port` (the one the load generator hits); `scratch` is a temp dir. */
  commands(port: number, scratch: string, extraPort: number): Command[];
}

export interface Layout {
  /** The repository root (with dist/ built). */
  root: string;
  /**
   * The encrypted tier: the contestants that run the project's nginx config also serve HTTPS
   * (HTTP/2) on this port with this certificate, beside plain HTTP on the port they are given.
   */
  tls?: { port: number; certificate: string; key: string };
}

function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** nginx's main file around `httpBody`: foreground, files in `scratch`, `workers` processes. */
export function nginxConfig(workers: number, scratch: string, httpBody: string): string {
  return `worker_processes ${workers};
daemon off;
master_process on;
pid ${scratch}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${scratch}/body;
  proxy_temp_path ${scratch}/proxy;
  fastcgi_temp_path ${scratch}/fastcgi;
  uwsgi_temp_path ${scratch}/uwsgi;
  scgi_temp_path ${scratch}/scgi;
${httpBody}
}
`;
}

/** The ceiling: nginx answering by itself. */
export function nginxReturnServer(port: number): string {
  return `server {
    listen 127.0.0.1:${port};
    location / {
      default_type text/plain;
      return 200 "Hello, World!";
    }
  }`;
}

/** A bare keep-alive proxy, used when the project's nginx/foobar.conf is not there. */
export function nginxMinimalProxy(port: number, upstreamPort: number): string {
  return `upstream gateway {
    server 127.0.0.1:${upstreamPort};
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`;
}

/** The upstream pool of the `nginx-node-cluster-N` reference: larger than any load the bench makes. */
export const GENEROUS_POOL = 4096;

function writeNginxConfig(scratch: string, text: string): string {
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, "nginx.conf");
  writeFileSync(file, text);
  return file;
}

export function contestants(workers: number, { root, tls }: Layout): Contestant[] {
  const node = process.execPath;
  const server = (name: string) => join(root, "dist/bench/servers", name);
  const cli = join(root, "gateway/dist/cli.js");
  const hello = join(root, "app/dist/hello.js");
  const demo = join(root, "app/dist/index.js");
  const noNginx = hasCommand("nginx") ? undefined : "nginx is not installed";
  const noGunicorn = hasCommand("gunicorn") ? undefined : "gunicorn is not installed";
  const n = workers;

  /** The gateway's own CLI: a master and `count` pre-forked workers serving `module`. */
  const foobar = (port: number, count: number, module: string): Command => ({
    command: node,
    args: [cli, "-w", String(count), "-b", `127.0.0.1:${port}`, module],
  });
  const projectNginx = join(root, "nginx/foobar.conf");
  const nginx = (scratch: string, conf: string): Command => ({
    command: "nginx",
    args: ["-e", "stderr", "-p", scratch, "-c", conf],
  });
  /** nginx (`n` workers) serving the project's nginx/foobar.conf on `p`, upstream `upstream`. */
  const projectNginxOn = (p: number, scratch: string, upstream: number, keepalive?: number) => {
    const site = loopbackSite(readFileSync(projectNginx, "utf8"), {
      port: p,
      upstreamPort: upstream,
      logDir: scratch,
      keepalive,
      tls,
    });
    return nginx(scratch, writeNginxConfig(scratch, nginxConfig(n, scratch, site)));
  };
  const noProjectNginx = noNginx ?? (existsSync(projectNginx) ? undefined : "no nginx/foobar.conf");
  const gunicorn = (port: number, extra: string[]): Command => ({
    command: "gunicorn",
    args: [
      "--chdir",
      join(root, "bench/servers"),
      "-w",
      String(n),
      "-b",
      `127.0.0.1:${port}`,
      "--log-level",
      "warning",
      ...extra,
      "wsgi_hello:app",
    ],
  });

  // Each one sits next to the ones it is compared with: within a round they run seconds apart.
  return [
    {
      id: "node-http",
      label: "node:http",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("node-http.js"), String(p)] }],
    },
    {
      id: "fastify-1",
      label: "Fastify 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("fastify.js"), String(p)] }],
    },
    {
      id: "foobar-1",
      label: "foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, hello)],
    },
    // The contract alone (bench/servers/tsgi-floor.ts): splits foobar's distance from node:http
    // into what TSGI itself costs and what the gateway's machinery around it costs.
    {
      id: "tsgi-floor-1",
      label: "TSGI floor 1w (the contract, no gateway)",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("tsgi-floor.js"), String(p)] }],
    },
    // Hono and Express served by their own Node server, then by foobar through their adapters
    // (fromFetch, fromExpress): the adapter's cost, one process each.
    {
      id: "hono-node",
      label: "Hono on @hono/node-server",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("hono.js"), String(p)] }],
    },
    {
      id: "hono-foobar-1",
      label: "Hono via fromFetch, foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, `${server("hello-frameworks.js")}:honoViaFetch`)],
    },
    // The ways fromFetch was measured against (issue #27): a full undici Request per call, and
    // @hono/node-server's own listener over the gateway's Node-style stand-ins.
    {
      id: "hono-foobar-eager-1",
      label: "Hono via fromFetch { lazy: false }, foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, `${server("hello-frameworks.js")}:honoViaFetchEager`)],
    },
    {
      id: "hono-listener-foobar-1",
      label: "Hono via its node-server listener + fromRequestListener, foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, `${server("hello-frameworks.js")}:honoViaNodeListener`)],
    },
    // foobar's hello the other way round: a fetch handler (toFetch) on @hono/node-server, to be
    // compared with foobar 1w serving the same app.
    {
      id: "hello-tofetch-hono-node",
      label: "foobar hello via toFetch on @hono/node-server",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("hello-to-fetch.js"), String(p)] }],
    },
    {
      id: "express-node",
      label: "Express on node:http",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("express.js"), String(p)] }],
    },
    {
      id: "express-foobar-1",
      label: "Express via fromExpress, foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, `${server("hello-frameworks.js")}:expressViaAdapter`)],
    },
    {
      id: `node-cluster-${n}`,
      label: `node:http cluster ${n}w`,
      workers: n,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("node-http.js"), String(p), String(n)] }],
    },
    {
      id: `foobar-${n}`,
      label: `foobar ${n}w`,
      workers: n,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, n, hello)],
    },
    {
      id: `fastify-${n}`,
      label: `Fastify cluster ${n}w`,
      workers: n,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("fastify.js"), String(p), String(n)] }],
    },
    {
      id: `foobar-demo-${n}`,
      label: `foobar ${n}w + demo middleware`,
      workers: n,
      // The demo's router serves hello at "/" (through its trail middleware); the bench checks
      // the 13-byte body before measuring, so a different page there fails loudly.
      path: "/",
      skipReason: existsSync(demo)
        ? undefined
        : "the demo app (app/dist/index.js, branch middleware) has not landed",
      commands: (p) => [foobar(p, n, demo)],
    },
    {
      id: `nginx-foobar-${n}`,
      label: `nginx ${n}w → foobar ${n}w${existsSync(projectNginx) ? "" : " (bench nginx config)"}`,
      workers: n,
      path: "/",
      skipReason: noNginx,
      commands: (p, scratch, upstream) => [
        foobar(upstream, n, hello),
        existsSync(projectNginx)
          ? projectNginxOn(p, scratch, upstream)
          : nginx(
              scratch,
              writeNginxConfig(scratch, nginxConfig(n, scratch, nginxMinimalProxy(p, upstream))),
            ),
      ],
    },
    // The project's nginx config with a pool larger than any load, in front of foobar: against
    // nginx-foobar-N it isolates what the pool size costs; against nginx-node-cluster-N, what
    // the backend does.
    {
      id: `nginx-foobar-pool-${n}`,
      label: `nginx ${n}w (pool ${GENEROUS_POOL}) → foobar ${n}w`,
      workers: n,
      path: "/",
      skipReason: noProjectNginx,
      commands: (p, scratch, upstream) => [
        foobar(upstream, n, hello),
        projectNginxOn(p, scratch, upstream, GENEROUS_POOL),
      ],
    },
    // The nginx tier's reference: the same nginx config with a pool larger than any load here,
    // in front of a raw node:http cluster. nginx → foobar should reach >= 0.95x of it.
    {
      id: `nginx-node-cluster-${n}`,
      label: `nginx ${n}w (pool ${GENEROUS_POOL}) → node:http cluster ${n}w`,
      workers: n,
      path: "/",
      skipReason: noProjectNginx,
      commands: (p, scratch, upstream) => [
        { command: node, args: [server("node-http.js"), String(upstream), String(n)] },
        projectNginxOn(p, scratch, upstream, GENEROUS_POOL),
      ],
    },
    {
      id: `gunicorn-sync-${n}`,
      label: `Gunicorn sync ${n}w`,
      workers: n,
      path: "/",
      skipReason: noGunicorn,
      commands: (p) => [gunicorn(p, [])],
    },
    {
      id: `gunicorn-gthread-${n}`,
      label: `Gunicorn gthread ${n}w×4t`,
      workers: n,
      path: "/",
      skipReason: noGunicorn,
      commands: (p) => [gunicorn(p, ["-k", "gthread", "--threads", "4", "--keep-alive", "2"])],
    },
    {
      id: `nginx-return-${n}`,
      label: `nginx ${n}w return 200 (ceiling)`,
      workers: n,
      path: "/",
      skipReason: noNginx,
      commands: (p, scratch) => [
        nginx(scratch, writeNginxConfig(scratch, nginxConfig(n, scratch, nginxReturnServer(p)))),
      ],
    },
  ];
}
