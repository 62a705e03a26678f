/**
 * `npm run bench:profile [-- --duration 10 --connections 50]` — where foobar's extra
 * microseconds per request go. Runs raw `node:http` and `gateway -w 1` (hello) one after the
 * other under the same wrk load (server pinned to CPU 0, wrk to CPU 1), each with
 * `node --cpu-prof` (the gateway's workers inherit the flag), and keeps only the samples taken
 * while the measured wrk run lasted: V8 stamps samples with the same monotonic clock as
 * `process.hrtime`. Prints µs per request by category and the costliest functions, and writes
 * the chart `docs/profile.svg`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sleep, startServer, type Command } from "./processes.js";
import {
  profileChartSvg,
  profileTable,
  summarizeProfiles,
  type CpuProfile,
  type ProfileSummary,
} from "./profile-report.js";
import { runWrk } from "./wrk.js";

const root = resolve(fileURLToPath(import.meta.url), "../../..");
const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    svg: { type: "string", default: join(root, "docs/profile.svg") },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const pin = cpus().length >= 2;
const serverCpu = pin ? "0" : undefined;
const loadCpu = pin ? String(cpus().length - 1) : undefined;

const microsNow = () => Number(process.hrtime.bigint() / 1000n);

async function profile(
  name: string,
  command: (dir: string, port: number) => Command,
  handlerPattern: RegExp,
): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), `foobar-profile-${name}-`));
  process.stderr.write(`${name}: starting with --cpu-prof\n`);
  const started = await startServer((port) => [command(dir, port)], "/", serverCpu);
  let from: number;
  let to: number;
  let requests: number;
  try {
    await runWrk({ url: started.url, connections, seconds: 2, cpus: loadCpu }); // JIT warm-up
    process.stderr.write(`${name}: measuring ${duration} s\n`);
    from = microsNow();
    const load = await runWrk({ url: started.url, connections, seconds: duration, cpus: loadCpu });
    to = microsNow();
    requests = load.requests;
    process.stderr.write(`${name}: ${load.requestsPerSecond.toFixed(0)} req/s\n`);
  } finally {
    await started.running.stop(); // the profiles are written as the processes exit
  }
  let files: string[] = [];
  for (let i = 0; i < 100 && files.length === 0; i++) {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (files.length === 0) await sleep(100);
  }
  if (files.length === 0) throw new Error(`${name}: no profile was written in ${dir}`);
  await sleep(500); // a worker's profile may still be being written after the master's
  files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as CpuProfile);
  rmSync(dir, { recursive: true, force: true });
  return summarizeProfiles(profiles, { from, to }, requests, handlerPattern);
}

const prof = (dir: string) => ["--cpu-prof", `--cpu-prof-dir=${dir}`];
const node = await profile(
  "node:http",
  (dir, port) => ({
    command: process.execPath,
    // Node writes the profile at a normal exit, and SIGTERM's default action is not one (the
    // gateway handles TERM itself; this server does not).
    args: [
      ...prof(dir),
      "--import",
      'data:text/javascript,process.on("SIGTERM", () => process.exit(0))',
      join(root, "dist/bench/servers/node-http.js"),
      String(port),
    ],
  }),
  /\/bench\/servers\//,
);
const foobar = await profile(
  "foobar 1w",
  (dir, port) => ({
    command: process.execPath,
    args: [
      ...prof(dir),
      join(root, "gateway/dist/cli.js"),
      "-w",
      "1",
      "-b",
      `127.0.0.1:${port}`,
      join(root, "app/dist/hello.js"),
    ],
  }),
  /\/(gateway|tsgi|app)\//,
);

const top = (summary: ProfileSummary) =>
  summary.topFunctions.map(([fn, us]) => `  ${us.toFixed(3).padStart(7)}  ${fn}`).join("\n");
writeFileSync(
  values.svg,
  profileChartSvg(node, foobar, "CPU µs per request by where it is spent (self time)"),
);
process.stdout.write(
  [
    `wrk: 1 thread, ${connections} connections, ${duration} s; server on CPU ${serverCpu ?? "any"}`,
    `node:http ${node.requests} requests; foobar 1w ${foobar.requests} requests`,
    "",
    profileTable(node, foobar),
    "",
    "node:http, costliest functions (self µs/req):",
    top(node),
    "",
    "foobar 1w, costliest functions (self µs/req):",
    top(foobar),
    "",
    `wrote ${values.svg}`,
    "",
  ].join("\n"),
);
