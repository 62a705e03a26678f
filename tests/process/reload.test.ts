/**
 * Changing the workers while traffic flows: HUP (new code), TTIN/TTOU (count) and
 * max-requests recycling — none of them may fail a request.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { isRunning } from "../../gateway/pidfile.js";
import { APPS, GatewayProcess, get, loadLoop, sleep, waitUntil } from "./gateway-process.js";

// Real processes on a shared 2-core machine: booting one can take seconds under load. The
// assertions are about behaviour; this only keeps a slow run from being cut off.
vi.setConfig({ testTimeout: 90_000 });

const started: GatewayProcess[] = [];
function gateway(args: string[]): GatewayProcess {
  const server = new GatewayProcess(["-b", "127.0.0.1:0", ...args]);
  started.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

const scratch = mkdtempSync(join(tmpdir(), "gateway-reload-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writeVersionedApp(path: string, version: string): void {
  writeFileSync(
    path,
    `const body = new TextEncoder().encode("${version}\\n");
export default function versioned(environ, startResponse) {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [body];
}
`,
  );
}

describe("HUP", () => {
  it("serves new app code after HUP with zero failed requests during a keep-alive load loop", async () => {
    const app = join(scratch, "versioned.js");
    writeVersionedApp(app, "v1");
    const server = await gateway(["-w", "2", app]).ready(2);
    expect((await get(server.port, "/")).body).toBe("v1\n");

    let switched!: () => void;
    const done = new Promise<void>((resolve) => (switched = resolve));
    const loop = loadLoop(server.port, { total: 20_000, concurrency: 10, until: done });
    await sleep(300);
    writeVersionedApp(app, "v2");
    server.signal("SIGHUP");
    await server.waitForLog(/Worker exiting/, 2); // both old workers stopped
    await sleep(500); // and traffic kept flowing afterwards
    switched();
    const result = await loop;

    expect(result.errors).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.bodies.get("v1\n")).toBeGreaterThan(0);
    expect(result.bodies.get("v2\n")).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect((await get(server.port, "/")).body).toBe("v2\n");
    expect(await server.workerPids()).toHaveLength(2);
  });

  it("keeps the previous workers serving when the new app code cannot be imported", async () => {
    const app = join(scratch, "deploy.js");
    writeVersionedApp(app, "good");
    const server = await gateway(["-w", "2", app]).ready(2);
    writeFileSync(app, "throw new Error('bad deploy');\n");
    server.signal("SIGHUP");
    await server.waitForLog(/Reload failed: new workers cannot boot \(exit code 4\)/);
    await sleep(1500); // no respawn loop, no halt
    expect(server.child.exitCode).toBeNull();
    expect(server.log.match(/bad deploy/g)?.length).toBeLessThanOrEqual(2);
    for (let i = 0; i < 5; i++) expect((await get(server.port, "/")).body).toBe("good\n");
    expect(await server.workerPids()).toHaveLength(2);
  });

  it("after a failed reload, a crashed old worker is not a reason to stop: the survivor serves until a good HUP", async () => {
    const app = join(scratch, "crash-after-bad-deploy.js");
    writeVersionedApp(app, "good");
    const server = await gateway(["-w", "2", app]).ready(2);
    writeFileSync(app, "throw new Error('bad deploy');\n");
    server.signal("SIGHUP");
    await server.waitForLog(/Reload failed: new workers cannot boot \(exit code 4\)/);
    await waitUntil(async () => (await server.workerPids()).length === 2);
    const [victim, survivor] = await server.workerPids();
    process.kill(victim!, "SIGKILL");
    // Its replacement imports the code on disk — still broken — so it cannot boot: the
    // master keeps the survivor serving and spawns nothing more until the next HUP.
    await server.waitForLog(/not replacing workers until the next HUP; 1 worker\(s\) keep serving/);
    const booted = server.log.match(/Booting worker/g)!.length;
    await sleep(2000);
    expect(server.child.exitCode).toBeNull();
    expect(server.log.match(/Booting worker/g)).toHaveLength(booted); // no respawn loop
    for (let i = 0; i < 5; i++) expect((await get(server.port, "/")).body).toBe("good\n");
    expect(await server.workerPids()).toEqual([survivor]);

    writeVersionedApp(app, "fixed");
    server.signal("SIGHUP");
    await waitUntil(async () => (await get(server.port, "/")).body === "fixed\n");
    await waitUntil(async () => (await server.workerPids()).length === 2);
    expect(await server.workerPids()).not.toContain(survivor);
  });

  it("a HUP that overtakes the old workers' ready messages fails back to both of them", async () => {
    // post_worker_init holds each first-generation worker between listen() and its "ready"
    // message, so the HUP retires workers that have not said "ready" yet. Their late "ready"
    // must not stop a sibling: a worker releases a retiring one only when it replaces it.
    const app = join(scratch, "late-ready.js");
    const config = join(scratch, "late-ready.config.js");
    const slowBoot = join(scratch, "late-ready.slow");
    writeVersionedApp(app, "good");
    writeFileSync(slowBoot, "");
    writeFileSync(
      config,
      `import { existsSync } from "node:fs";
export const workers = 2;
export async function post_worker_init() {
  if (existsSync(${JSON.stringify(slowBoot)})) await new Promise((r) => setTimeout(r, 3000));
}
`,
    );
    const server = await gateway(["-c", config, app]).ready(2);
    const firstGeneration = (await server.workerPids()).sort();
    rmSync(slowBoot);
    writeFileSync(app, "throw new Error('bad deploy');\n");
    server.signal("SIGHUP");
    await server.waitForLog(/Reload failed: new workers cannot boot \(exit code 4\)/);
    await sleep(4000); // past the first generation's late "ready"
    expect((await server.workerPids()).sort()).toEqual(firstGeneration);
    expect(server.child.exitCode).toBeNull();
    for (let i = 0; i < 4; i++) expect((await get(server.port, "/")).body).toBe("good\n");
  });

  it("after a failed reload, a crashed old worker is replaced with the previous configuration's app", async () => {
    const good = join(scratch, "generation-good.js");
    const broken = join(scratch, "generation-broken.js");
    const config = join(scratch, "generation.config.js");
    writeVersionedApp(good, "previous");
    writeFileSync(broken, "throw new Error('the new release is broken');\n");
    writeFileSync(
      config,
      `export const app = ${JSON.stringify(good)};\nexport const workers = 2;\n`,
    );
    const server = await gateway(["-c", config]).ready(2);
    writeFileSync(
      config,
      `export const app = ${JSON.stringify(broken)};\nexport const workers = 2;\n`,
    );
    server.signal("SIGHUP");
    await server.waitForLog(/Reload failed: new workers cannot boot \(exit code 4\)/);
    await waitUntil(async () => (await server.workerPids()).length === 2);
    const [victim] = await server.workerPids();
    process.kill(victim!, "SIGKILL");
    await waitUntil(async () => {
      const pids = await server.workerPids();
      return pids.length === 2 && !pids.includes(victim!);
    });
    const replies = new Set<string>();
    for (let i = 0; i < 20; i++) replies.add((await get(server.port, "/")).body);
    expect([...replies]).toEqual(["previous\n"]);
    expect(server.child.exitCode).toBeNull();
    expect(server.log.match(/the new release is broken/g)?.length).toBeLessThanOrEqual(2);
  });

  it("stops every old worker, the ones TTIN added too, once the new generation serves", async () => {
    const app = join(scratch, "generations.js");
    writeVersionedApp(app, "v1");
    const server = await gateway(["-w", "1", app]).ready(1);
    server.signal("SIGTTIN");
    await waitUntil(async () => (await server.workerPids()).length === 2);
    const old = await server.workerPids();
    await sleep(1000); // the added worker is listening
    writeVersionedApp(app, "v2");
    server.signal("SIGHUP"); // back to the configured 1 worker, with new code
    await waitUntil(async () => {
      const pids = await server.workerPids();
      return pids.length === 1 && !old.includes(pids[0]!);
    });
    const replies = new Set<string>();
    for (let i = 0; i < 20; i++) replies.add((await get(server.port, "/")).body);
    expect([...replies]).toEqual(["v2\n"]);
  });

  it("keeps the running configuration when the new config file is broken", async () => {
    const config = join(scratch, "reload.config.js");
    writeFileSync(config, "export const workers = 1;\n");
    const server = await gateway(["-c", config, `${APPS}/slow.js`]).ready(1);
    writeFileSync(config, "export const workers = 'many';\n");
    server.signal("SIGHUP");
    await server.waitForLog(/Reload failed, keeping the running configuration: .*workers/);
    expect((await get(server.port, "/")).status).toBe(200);
  });

  it("runs the start-up checks on the new settings first, and keeps serving if they fail", async () => {
    const config = join(scratch, "reload-checks.config.js");
    writeFileSync(config, "export const workers = 1;\n");
    const server = await gateway(["-c", config, `${APPS}/slow.js`]).ready(1);
    const missing = join(scratch, "no-such-dir");
    writeFileSync(config, `export const worker_tmp_dir = ${JSON.stringify(missing)};\n`);
    server.signal("SIGHUP");
    await server.waitForLog(
      /Reload failed, keeping the running configuration: .*worker_tmp_dir.*does not exist/,
    );
    // Its addresses are the running server's own: they were not probed (that would fail).
    expect(server.log).not.toMatch(/cannot listen/);
    expect((await get(server.port, "/")).status).toBe(200);
    // Still the old generation: no new worker was started for the refused settings.
    expect(server.log).not.toMatch(/Hang up[\s\S]*Booting worker/);
  });
});

describe("TTIN and TTOU", () => {
  it("add and remove one worker", async () => {
    const server = await gateway(["-w", "2", `${APPS}/slow.js`]).ready(2);
    server.signal("SIGTTIN");
    await waitUntil(async () => (await server.workerPids()).length === 3);
    await sleep(1000); // let the new worker reach listen() before the old ones go
    // One signal at a time: the kernel merges a signal sent again before the first is handled.
    server.signal("SIGTTOU");
    await waitUntil(async () => (await server.workerPids()).length === 2);
    server.signal("SIGTTOU");
    await waitUntil(async () => (await server.workerPids()).length === 1);
    server.signal("SIGTTOU"); // never below one
    await sleep(1500);
    expect(await server.workerPids()).toHaveLength(1);
    expect((await get(server.port, "/")).status).toBe(200);
  });
});

describe("TTOU under load", () => {
  it("a worker stopped alone ends its kept-alive connections at once (its siblings accept): it exits long before the graceful timeout, and no request fails", async () => {
    const server = await gateway(["-w", "2", "--graceful-timeout", "120", `${APPS}/slow.js`]).ready(
      2,
    );
    let stopLoad!: () => void;
    const loop = loadLoop(server.port, {
      total: 1_000_000,
      concurrency: 10,
      until: new Promise<void>((resolve) => (stopLoad = resolve)),
    });
    await sleep(300);
    const before = await server.workerPids();
    server.signal("SIGTTOU");
    // Under a keep-alive load its connections are never idle: had it kept them alive (what a
    // worker does in a full stop until the master says the socket is closed), it would serve on
    // until killed at the graceful timeout.
    await waitUntil(async () => (await server.workerPids()).length === 1, 60_000);
    const gone = before.filter((pid) => !isRunning(pid));
    stopLoad();
    const result = await loop;
    expect(gone).toHaveLength(1);
    expect(server.log).not.toContain("still busy after the graceful timeout");
    expect(result.errors).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);
  });
});

describe("max-requests", () => {
  it("recycles workers under a load loop of 2,000 requests: none fails, each retires at its own limit and stops", async () => {
    const [max, jitter, concurrency] = [50, 10, 10];
    const server = await gateway([
      "-w",
      "2",
      "--max-requests",
      String(max),
      "--max-requests-jitter",
      String(jitter),
      `${APPS}/slow.js`,
    ]).ready(2);
    const result = await loadLoop(server.port, { total: 2000, concurrency });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(2000);

    // Each worker decides to retire exactly at its own limit: max + random(0..jitter).
    const retired = new Map<number, number>(); // pid → its limit
    for (const [, pid, served] of server.log.matchAll(
      /\[(\d+)\] \[INFO\] Autorestarting worker after current request \(served (\d+)\)/g,
    ))
      retired.set(Number(pid), Number(served));
    expect(retired.size).toBeGreaterThan(0); // 2,000 requests cannot fit under two limits
    for (const limit of retired.values()) {
      expect(limit).toBeGreaterThanOrEqual(max);
      expect(limit).toBeLessThanOrEqual(max + jitter);
    }
    // And each of them is replaced and stops.
    await waitUntil(() => ![...retired.keys()].some(isRunning));
    expect(await server.workerPids()).toHaveLength(2);
    // How far past its limit a worker serves is not bounded by a count: the stop crosses
    // processes (worker → master → SIGTERM), and a worker that is the only one serving keeps
    // serving until its replacement listens (the listening socket must not close) — both take
    // as long as the machine makes them take. The promises are the ones above.
    const lone = new Set(
      [
        ...server.log.matchAll(/Worker \(pid:(\d+)\) reached max_requests and is the only one/g),
      ].map((match) => Number(match[1])),
    );
    console.log(
      `max-requests: ${result.bodies.size} workers served 2,000 requests; ` +
        `${retired.size} retired (${lone.size} alone, waiting for a replacement)`,
    );
  });
});
