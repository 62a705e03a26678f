/**
 * The contestants: every server serves the same 13-byte `Hello, World!` on 127.0.0.1.
 * Each says how to start it on a given port, or why it cannot run on this machine (skipped).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
}

function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A minimal nginx configuration: `return 200` itself, or a keep-alive proxy to `upstreamPort`. */
export function nginxConfig(
  port: number,
  workers: number,
  scratch: string,
  upstreamPort?: number,
): string {
  const location =
    upstreamPort === undefined
      ? `default_type text/plain;\n      return 200 "Hello, World!";`
      : `proxy_pass http://gateway;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_set_header Host $host;`;
  const upstream =
    upstreamPort === undefined
      ? ""
      : `upstream gateway {\n    server 127.0.0.1:${upstreamPort};\n    keepalive 64;\n  }\n  `;
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
  ${upstream}server {
    listen 127.0.0.1:${port};
    location / {
      ${location}
    }
  }
}
`;
}

function writeNginxConfig(scratch: string, text: string): string {
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, "nginx.conf");
  writeFileSync(file, text);
  return file;
}

export function contestants(workers: number, { root }: Layout): Contestant[] {
  const node = process.execPath;
  const server = (name: string) => join(root, "dist/bench/servers", name);
  const cli = join(root, "dist/gateway/cli.js");
  const hello = join(root, "dist/app/hello.js");
  const demo = join(root, "dist/app/index.js");
  const noNginx = hasCommand("nginx") ? undefined : "nginx is not installed";
  const noGunicorn = hasCommand("gunicorn") ? undefined : "gunicorn is not installed";
  const n = workers;

  /** The gateway's own CLI: a master and `count` pre-forked workers serving `module`. */
  const foobar = (port: number, count: number, module: string): Command => ({
    command: node,
    args: [cli, "-w", String(count), "-b", `127.0.0.1:${port}`, module],
  });
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
      id: `node-cluster-${n}`,
      label: `node:http cluster ${n}w`,
      workers: n,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("node-http.js"), String(p), String(n)] }],
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
      id: `fastify-${n}`,
      label: `Fastify cluster ${n}w`,
      workers: n,
      path: "/",
      skipReason: undefined,
      commands: (p) => [{ command: node, args: [server("fastify.js"), String(p), String(n)] }],
    },
    {
      id: "foobar-1",
      label: "foobar 1w",
      workers: 1,
      path: "/",
      skipReason: undefined,
      commands: (p) => [foobar(p, 1, hello)],
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
      id: `foobar-demo-${n}`,
      label: `foobar ${n}w + demo middleware`,
      workers: n,
      // The demo's router serves hello at "/" (through its trail middleware); the bench checks
      // the 13-byte body before measuring, so a different page there fails loudly.
      path: "/",
      skipReason: existsSync(demo)
        ? undefined
        : "the demo app (dist/app/index.js, branch middleware) has not landed",
      commands: (p) => [foobar(p, n, demo)],
    },
    {
      id: `nginx-foobar-${n}`,
      label: `nginx ${n}w → foobar ${n}w`,
      workers: n,
      path: "/",
      skipReason: noNginx,
      commands: (p, scratch, upstream) => [
        foobar(upstream, n, hello),
        {
          command: "nginx",
          args: [
            "-e",
            "stderr",
            "-p",
            scratch,
            "-c",
            writeNginxConfig(scratch, nginxConfig(p, n, scratch, upstream)),
          ],
        },
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
        {
          command: "nginx",
          args: [
            "-e",
            "stderr",
            "-p",
            scratch,
            "-c",
            writeNginxConfig(scratch, nginxConfig(p, n, scratch)),
          ],
        },
      ],
    },
  ];
}
