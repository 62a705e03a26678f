/**
 * The worker stats (/stats on --metrics-bind), read from a real master while its workers boot,
 * serve, get recycled at max-requests, get killed, and get reloaded — and `gateway status`
 * telling the same story.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  EVENT_LOG_SIZE,
  type ArbiterEvent,
  type StatsDocument,
} from "../../gateway/worker-stats.js";
import { APPS, CLI, GatewayProcess, get, metricsPort, waitUntil } from "./gateway-process.js";

vi.setConfig({ testTimeout: 90_000 });

const scratch = mkdtempSync(join(tmpdir(), "gateway-stats-"));
const slowBoot = join(scratch, "slow-boot");
const pidfile = join(scratch, "gateway.pid");
const MAX_REQUESTS = 12;

/** slow.js, but its import takes 3 s while the marker file exists: booting is visible. */
const app = join(scratch, "app.js");
writeFileSync(
  app,
  `import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
if (existsSync(${JSON.stringify(slowBoot)})) await sleep(3000);
export { default } from ${JSON.stringify(join(APPS, "slow.js"))};
`,
);

let server: GatewayProcess;
let metrics = 0;

async function stats(): Promise<StatsDocument> {
  const reply = await get(metrics, "/stats");
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as StatsDocument;
}

/** Polls /stats until `check` holds; returns that document. */
async function statsWhen(check: (stats: StatsDocument) => boolean): Promise<StatsDocument> {
  let last: StatsDocument | undefined;
  await waitUntil(async () => check((last = await stats())), 30_000, 100);
  return last!;
}

const eventsOf = (stats: StatsDocument, kind: ArbiterEvent["kind"], pid?: number | null) =>
  stats.events.filter((event) => event.kind === kind && (pid === undefined || event.pid === pid));

beforeAll(async () => {
  writeFileSync(slowBoot, "");
  server = new GatewayProcess([
    "-b",
    "127.0.0.1:0",
    "-w",
    "2",
    "--max-requests",
    String(MAX_REQUESTS),
    "--metrics-bind",
    "127.0.0.1:0",
    "--pid",
    pidfile,
    app,
  ]);
  metrics = await metricsPort(server);
});

afterAll(async () => {
  await server?.kill();
  rmSync(scratch, { recursive: true, force: true });
});

describe("the stats of a real master", () => {
  it("shows workers booting, then idle, with their pid, age, generation and bound", async () => {
    const booting = await stats();
    expect(booting.master.pid).toBe(server.pid);
    expect(booting.master.workers_wanted).toBe(2);
    expect(booting.workers.map((worker) => worker.state)).toEqual(["booting", "booting"]);
    expect(booting.workers.map((worker) => worker.age)).toEqual([1, 2]);
    expect(eventsOf(booting, "spawned").map((event) => event.pid)).toEqual(
      booting.workers.map((worker) => worker.pid),
    );
    unlinkSync(slowBoot);

    await server.ready(2);
    const idle = await statsWhen((s) => s.workers.every((worker) => worker.rss_bytes !== null));
    expect(idle.workers.map((worker) => worker.pid).sort()).toEqual(
      (await server.workerPids()).sort(),
    );
    for (const worker of idle.workers) {
      expect(worker).toMatchObject({
        state: "idle",
        generation: 0,
        reason: null,
        requests: 0,
        max_requests: MAX_REQUESTS,
        in_flight: 0,
        request: null,
      });
      expect(worker.rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(worker.heartbeat_age_s).toBeLessThan(5);
      expect(worker.uptime_s).toBeGreaterThan(0);
    }
    expect(eventsOf(idle, "booted")).toHaveLength(2);
  });

  it("is served on the metrics listener only, never by the app's port", async () => {
    const onApp = await get(server.port, "/stats");
    expect(onApp.body).toMatch(/^pid=\d+\n$/); // the app's own answer
    const page = await get(metrics, "/");
    expect(page.body).toContain('new EventSource("stats/stream")');
    expect((await get(metrics, "/nope")).status).toBe(404);
  });

  it("shows the request a worker is serving, and for how long", async () => {
    const slow = get(server.port, "/slow?ms=2500");
    const busy = await statsWhen((s) => s.workers.some((worker) => worker.state === "busy"));
    const worker = busy.workers.find((candidate) => candidate.state === "busy")!;
    expect(worker.in_flight).toBe(1);
    expect(worker.request).toMatchObject({ method: "GET", path: "/slow?ms=2500" });
    expect(worker.request!.for_s).toBeGreaterThanOrEqual(0);
    expect(worker.request!.for_s).toBeLessThan(2.5);
    const servedBy = Number(/pid=(\d+)/.exec((await slow).body)![1]);
    expect(servedBy).toBe(worker.pid);
    const after = await statsWhen((s) =>
      s.workers.every((candidate) => candidate.state === "idle"),
    );
    // Counted once answered (the test before sent this master one request too).
    expect(after.workers.find((candidate) => candidate.pid === servedBy)!.requests).toBe(
      worker.requests + 1,
    );
  });

  it("counts requests against max-requests and logs the recycling", async () => {
    const before = await stats();
    const pids = before.workers.map((worker) => worker.pid);
    for (let i = 0; i < 2 * MAX_REQUESTS; i++) await get(server.port, "/");
    const recycled = await statsWhen(
      (s) => eventsOf(s, "max_requests").length > 0 && s.workers.length === 2,
    );
    const [event] = eventsOf(recycled, "max_requests");
    expect(pids).toContain(event!.pid);
    expect(event!.reason).toBe(`served ${MAX_REQUESTS}: recycled`);
    const gone = await statsWhen((s) => eventsOf(s, "exited", event!.pid).length === 1);
    expect(eventsOf(gone, "exited", event!.pid)[0]).toMatchObject({
      code: 0,
      signal: null,
      reason: "exit code 0, max_requests",
    });
    expect(gone.workers.map((worker) => worker.pid)).not.toContain(event!.pid);
    for (const worker of gone.workers) expect(worker.requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });

  it("logs a worker killed with SIGKILL, and its replacement", async () => {
    const before = await statsWhen(
      (s) => s.workers.length === 2 && s.workers.every((w) => w.state === "idle"),
    );
    const victim = before.workers[0]!.pid;
    const spawnedBefore = eventsOf(before, "spawned").length;
    process.kill(victim, "SIGKILL");
    const after = await statsWhen(
      (s) =>
        eventsOf(s, "exited", victim).length === 1 &&
        s.workers.length === 2 &&
        s.workers.every((w) => w.state === "idle"),
    );
    expect(eventsOf(after, "exited", victim)[0]).toMatchObject({
      code: null,
      signal: "SIGKILL",
      reason: "signal SIGKILL, unexpectedly",
    });
    expect(eventsOf(after, "spawned").length).toBe(spawnedBefore + 1);
    expect(after.workers.map((worker) => worker.pid)).not.toContain(victim);
  });

  it("logs TTIN and TTOU with the number of workers wanted", async () => {
    server.signal("SIGTTIN");
    const more = await statsWhen(
      (s) => s.workers.length === 3 && s.workers.every((w) => w.state === "idle"),
    );
    expect(more.master.workers_wanted).toBe(3);
    expect(eventsOf(more, "ttin").at(-1)!.reason).toBe("workers wanted: 2 → 3");
    server.signal("SIGTTOU");
    const fewer = await statsWhen(
      (s) => s.workers.length === 2 && eventsOf(s, "ttou").length === 1,
    );
    expect(fewer.master.workers_wanted).toBe(2);
    expect(eventsOf(fewer, "ttou")[0]!.reason).toBe("workers wanted: 3 → 2");
    const stopped = eventsOf(fewer, "stop").at(-1)!;
    expect(stopped.reason).toMatch(/^ttou: SIGTERM/);
    // TTOU stops the oldest worker.
    expect(stopped.pid).toBe(more.workers[0]!.pid);
  });

  it("logs a HUP from start to completion, with the new generation", async () => {
    const before = await stats();
    server.signal("SIGHUP");
    const reloaded = await statsWhen((s) => eventsOf(s, "hup_completed").length === 1);
    expect(eventsOf(reloaded, "hup")).toHaveLength(1);
    expect(reloaded.master.generation).toBe(1);
    expect(reloaded.workers).toHaveLength(2);
    for (const worker of reloaded.workers) {
      expect(worker.generation).toBe(1);
      expect(before.workers.map((old) => old.pid)).not.toContain(worker.pid);
    }
    for (const old of before.workers)
      expect(eventsOf(reloaded, "exited", old.pid)[0]!.reason).toBe("exit code 0, reload");
    // The order a learner should see: hup, new workers boot, old ones stop and exit, completed.
    const kinds = reloaded.events.map((event) => event.kind);
    expect(kinds.lastIndexOf("hup")).toBeLessThan(kinds.lastIndexOf("booted"));
    expect(kinds.lastIndexOf("exited")).toBeLessThan(kinds.lastIndexOf("hup_completed"));
  });

  it("keeps a bounded log", async () => {
    const current = await stats();
    expect(current.events.length).toBeLessThanOrEqual(EVENT_LOG_SIZE);
    const times = current.events.map((event) => Date.parse(event.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe("gateway status", () => {
  const run = promisify(execFile);
  const status = (args: string[]) => run(process.execPath, [CLI, "status", ...args]);

  it("prints a table of the same workers, found through the pidfile", async () => {
    const current = await statsWhen((s) => s.workers.every((worker) => worker.state === "idle"));
    const { stdout } = await status(["--pid", pidfile]);
    expect(stdout).toContain(`master ${server.pid} [`);
    expect(stdout).toMatch(
      /^PID\s+AGE\s+GEN\s+STATE\s+REQUESTS\s+UP\s+HEARTBEAT\s+RSS\s+REQUEST$/m,
    );
    for (const worker of current.workers)
      expect(stdout).toMatch(
        new RegExp(`^${worker.pid}\\s+${worker.age}\\s+1\\s+idle\\s+\\d+/${MAX_REQUESTS}\\s`, "m"),
      );
    expect(stdout).toMatch(/hup_completed\s+master\s+generation 1 serves alone/);
  });

  it("prints the JSON document through the metrics address", async () => {
    const { stdout } = await status(["--metrics", `127.0.0.1:${metrics}`, "--json"]);
    const document = JSON.parse(stdout) as StatsDocument;
    expect(document.master.pid).toBe(server.pid);
    expect(document.workers.map((worker) => worker.pid).sort()).toEqual(
      (await server.workerPids()).sort(),
    );
  });

  it("answers a wrong invocation with one line and exit 2", async () => {
    for (const args of [
      [],
      ["--pid", "1", "--metrics", "x:1"],
      ["--pid", join(scratch, "missing.pid")],
      ["--metrics", "127.0.0.1:1", "--watch", "0"],
    ]) {
      const failure = await status(args).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code, args.join(" ")).toBe(2);
      expect(failure?.stderr).toMatch(/^gateway status: [^\n]+ \(see gateway status --help\)\n$/);
    }
  });

  it("explains itself with --help", async () => {
    const { stdout } = await status(["--help"]);
    expect(stdout).toMatch(/^usage: gateway status \(--pid PIDFILE\|PID \| --metrics ADDRESS\)/);
    expect(stdout).toContain("--watch [SECONDS]");
  });

  it("says so when nothing answers at the address", async () => {
    const failure = await status(["--metrics", "127.0.0.1:1"]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(
      /^gateway status: cannot read the master's stats: .*ECONNREFUSED/,
    );
  });

  it("leaves no address file behind when the master stops", async () => {
    const path = `/dev/shm/gateway-${server.pid}.metrics`;
    const file = existsSync("/dev/shm") ? path : join(tmpdir(), `gateway-${server.pid}.metrics`);
    expect(existsSync(file)).toBe(true);
    server.signal("SIGTERM");
    await server.exited;
    expect(existsSync(file)).toBe(false);
  });
});

describe("a worker stuck in a busy loop", () => {
  it("is logged as killed for the timeout, naming its request", async () => {
    const stuck = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "-w",
      "1",
      "--timeout",
      "2",
      "--metrics-bind",
      "127.0.0.1:0",
      join(APPS, "spin.js"),
    ]);
    try {
      metrics = await metricsPort(stuck);
      await stuck.ready(1);
      const [pid] = await stuck.workerPids();
      get(stuck.port, "/spin").catch(() => {}); // never answered: the worker dies
      const after = await statsWhen((s) => eventsOf(s, "exited", pid).length === 1);
      expect(eventsOf(after, "timeout", pid)[0]!.reason).toBe(
        "no heartbeat for 2 s while serving GET /spin: SIGKILL",
      );
      expect(eventsOf(after, "exited", pid)[0]).toMatchObject({
        signal: "SIGKILL",
        reason: "signal SIGKILL, timeout",
      });
    } finally {
      await stuck.kill();
    }
  });
});
