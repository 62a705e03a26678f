/**
 * The arbiter keeps workers serving through crashes and stuck event loops, stops gracefully
 * on TERM and at once on INT, and refuses to start a broken app.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BOOT_FAILURE_BUDGET } from "../../gateway/arbiter.js";
import { isRunning } from "../../gateway/pidfile.js";
import {
  APPS,
  childrenOf,
  commandLine,
  GatewayProcess,
  get,
  loadLoop,
  sleep,
  waitUntil,
} from "./gateway-process.js";

// Real processes on a shared 2-core machine: booting one can take seconds under load. The
// assertions are about behaviour; this only keeps a slow run from being cut off.
vi.setConfig({ testTimeout: 90_000 });

const started: GatewayProcess[] = [];
function gateway(args: string[], env: NodeJS.ProcessEnv = {}): GatewayProcess {
  const server = new GatewayProcess(["-b", "127.0.0.1:0", ...args], env);
  started.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

describe("workers", () => {
  it("runs N workers with process titles that tell master and workers apart", async () => {
    const server = await gateway(["-w", "2", "-n", "titles", `${APPS}/slow.js`]).ready(2);
    const titles = () =>
      [server.pid, ...childrenOf(server.pid)].map((pid) => commandLine(pid)).join("\n");
    // A worker sets its title as it boots: wait for both.
    await waitUntil(() => (titles().match(/gateway: worker \[titles\]/g) ?? []).length === 2);
    expect(titles()).toContain("gateway: master [titles]");
  });

  it("replaces a worker killed with SIGKILL under load; only its in-flight requests may fail", async () => {
    const server = await gateway(["-w", "2", `${APPS}/slow.js`]).ready(2);
    const [victim] = await server.workerPids();
    let replacementServingAfterMs = -1;
    let replaced!: () => void;
    const replacementServes = new Promise<void>((resolve) => (replaced = resolve));
    // Load until the replacement serves (however long that takes on this machine).
    const loop = loadLoop(server.port, {
      total: 100_000,
      concurrency: 10,
      until: replacementServes,
    });
    await sleep(300);
    const killedAt = Date.now();
    process.kill(victim!, "SIGKILL");
    const [, pid] = (await server.waitForLog(/Booting worker with pid: (\d+)/, 3))[2]!;
    // Fresh connections go to whichever worker accepts first: ask until the new one answers.
    // How soon is the machine's business (bench territory); that it serves is the promise.
    await waitUntil(async () => {
      const reply = await get(server.port, "/");
      if (reply.body === `pid=${pid}\n`) replacementServingAfterMs = Date.now() - killedAt;
      return replacementServingAfterMs >= 0;
    }, 30_000);
    replaced();
    const result = await loop;
    console.log(
      `replacement serving after ${replacementServingAfterMs} ms; ` +
        `${result.ok} served, ${result.failed} failed`,
    );
    expect(server.log).toContain(`Worker (pid:${victim}) was sent SIGKILL!`);
    expect(result.ok).toBeGreaterThan(0);
    expect(result.failed).toBeLessThanOrEqual(10); // at most one in flight per client
  });

  it("kills a worker stuck in a busy loop, names the request, and keeps serving", async () => {
    const server = await gateway(["-w", "2", "--timeout", "2", `${APPS}/spin.js`]).ready(2);
    const stuck = get(server.port, "/spin?from=test").catch((error: Error) => error);
    const spunAt = Date.now();
    // Let one worker take the /spin connection alone: a connection accepted in the same
    // wake-up (libuv accepts every pending connection at once) would be stuck behind the busy
    // loop and reset with it. From then on the other worker accepts every new connection.
    await sleep(500);
    // Fresh connections during the stall: the other worker accepts them all.
    let served = 0;
    while (!server.log.includes("WORKER TIMEOUT")) {
      expect((await get(server.port, "/")).status).toBe(200);
      served += 1;
      await sleep(50);
      if (Date.now() - spunAt > 10_000) break;
    }
    const [match] = await server.waitForLog(
      /WORKER TIMEOUT \(pid:(\d+)\) while serving GET \/spin\?from=test/,
    );
    // Not before --timeout (2 s) after its last heartbeat; how long after depends on the machine (the master checks
    // once a second), so waitForLog's deadline is the only upper bound.
    expect(Date.now() - spunAt).toBeGreaterThanOrEqual(1500); // its last heartbeat: ≤ 0.5 s before
    expect(served).toBeGreaterThan(0); // the other worker served during the stall
    expect(await stuck).toBeInstanceOf(Error);
    await server.waitForLog(/Booting worker with pid/, 3);
    expect(server.log).not.toContain(
      `Worker (pid:${match![1]}) was sent SIGKILL! Perhaps out of memory?`,
    );
    await waitUntil(async () => (await server.workerPids()).length === 2);
  });

  it("workers exit when the master dies", async () => {
    const server = await gateway(["-w", "2", `${APPS}/slow.js`]).ready(2);
    const workers = await server.workerPids();
    server.signal("SIGKILL");
    await server.exited;
    await waitUntil(() => !workers.some(isRunning), 5000);
  });
});

describe("stopping", () => {
  it("TERM lets slow requests in flight complete, then exits 0 within the graceful timeout", async () => {
    const server = await gateway(["-w", "2", "--graceful-timeout", "10", `${APPS}/slow.js`]).ready(
      2,
    );
    const slow = Array.from({ length: 4 }, () => get(server.port, "/slow?ms=1500"));
    await sleep(300);
    const termAt = Date.now();
    server.signal("SIGTERM");
    const replies = await Promise.all(slow);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200]);
    const { code } = await server.exited;
    expect(code).toBe(0);
    // Within the graceful timeout: no worker had to be killed for overstaying it.
    expect(server.log).not.toContain("still busy after the graceful timeout");
    console.log(`TERM: exited ${Date.now() - termAt} ms after the signal`);
  });

  it("TERM during a keep-alive load loop: no request on an open connection is lost", async () => {
    const server = await gateway(["-w", "2", `${APPS}/slow.js`]).ready(2);
    const loop = loadLoop(server.port, { total: 100_000, concurrency: 10, until: server.exited });
    await sleep(500);
    server.signal("SIGTERM");
    const result = await loop;
    expect((await server.exited).code).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
    // Requests on open connections are answered (with Connection: close). New connections
    // made as the listener closes are refused, or reset if they were still waiting in the
    // kernel's accept queue: the server never saw those requests.
    expect(result.errors.filter((error) => error.startsWith("kept-alive"))).toEqual([]);
  });

  it("TERM keeps connections alive until no process accepts on the socket: a client told to reconnect is refused, never left in the accept queue", () =>
    expectNoClientSentIntoTheGap((server) => server.signal("SIGTERM")));

  it("the same when TERM reaches the workers a moment before the master (a whole process group signalled, as systemd's default KillMode does)", () =>
    expectNoClientSentIntoTheGap(async (server) => {
      for (const pid of await server.workerPids()) process.kill(pid, "SIGTERM");
      await sleep(20);
      server.signal("SIGTERM");
    }));

  it("INT exits at once, without waiting for slow requests", async () => {
    const server = await gateway(["-w", "1", "--graceful-timeout", "60", `${APPS}/slow.js`]).ready(
      1,
    );
    const slow = get(server.port, "/slow?ms=60000").catch((error: Error) => error);
    await sleep(300);
    const intAt = Date.now();
    server.signal("SIGINT");
    const { code } = await server.exited;
    expect(code).toBe(0);
    // Waiting would take 60 s (the request, and the graceful timeout): anything far below
    // that is "at once", however busy the machine.
    expect(Date.now() - intAt).toBeLessThan(20_000);
    expect(await slow).toBeInstanceOf(Error);
  });
});

/**
 * Runs a keep-alive load against two workers, one of them deaf to TERM for a second (busy with
 * a CPU-bound request), stops the gateway with `sendTerm`, and checks that no client was sent
 * away (`Connection: close`) while a process still accepted: a connection opened then would
 * wait in the kernel's queue with nobody to take it, and be reset when the socket closes.
 */
async function expectNoClientSentIntoTheGap(
  sendTerm: (server: GatewayProcess) => void | Promise<void>,
): Promise<void> {
  const server = await gateway(["-w", "2", `${APPS}/slow.js`]).ready(2);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  // Each answer's Connection header and, for the first `close`, what a new connection met
  // right after it: refused (the socket is closed everywhere), or accepted by the kernel.
  const seen = { keepAlive: 0, close: 0, errors: [] as string[] };
  let reconnect: Promise<string> | undefined;
  let stop = false;
  void server.exited.then(() => (stop = true));
  const client = async () => {
    while (!stop) {
      try {
        const connection = await connectionHeaderOf(server.port, agent);
        if (connection === "close") {
          seen.close += 1;
          reconnect ??= connectOutcome(server.port);
        } else seen.keepAlive += 1;
      } catch (error) {
        const { code, reusedSocket } = error as NodeJS.ErrnoException & {
          reusedSocket?: boolean;
        };
        // Refused new connections are what the client should meet once the socket is closed.
        if (reusedSocket || code !== "ECONNREFUSED") seen.errors.push(`${code}`);
      }
    }
  };
  const clients = Array.from({ length: 4 }, client);
  // One worker is deaf to TERM for a second (a CPU-bound request): its copy of the socket
  // stays open while the other worker has stopped accepting and would already send clients
  // away — into an accept queue nobody takes from.
  const busy = get(server.port, "/busy?ms=1000");
  await sleep(300);
  await sendTerm(server);
  await Promise.all(clients);
  expect((await busy).status).toBe(200);
  agent.destroy();
  expect((await server.exited).code).toBe(0);
  expect(seen.errors).toEqual([]);
  expect(seen.close).toBeGreaterThan(0);
  // A connection accepted here would wait in the kernel's queue with nobody to take it, and
  // be reset when the socket closes, after the client (nginx) had sent its request.
  expect(await reconnect).toBe("ECONNREFUSED");
}

/** One GET on `agent`; resolves with the response's Connection header. */
function connectionHeaderOf(port: number, agent: Agent): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.headers.connection));
      response.on("error", reject);
    });
    req.on("error", (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end();
  });
}

/** Opens a new TCP connection: "connected", or the error code it met. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

describe("boot errors", () => {
  it("a broken app stops the server with a clear message and no respawn loop", async () => {
    const server = gateway(["-w", "2", `${APPS}/broken.js`]);
    const { code } = await server.exited;
    expect(code).toBe(4);
    expect(server.log).toContain("this app is broken on purpose");
    expect(server.log).toMatch(/Shutting down: the app failed to load/);
    expect(server.log.match(/Booting worker/g)).toHaveLength(2);
  });

  it("a worker that cannot boot (--worker-tmp-dir gone) stops the server with exit 3, one line, no respawn", async () => {
    // A missing --worker-tmp-dir is refused before any worker starts (tests/process/
    // bad-invocations.test.ts); here it disappears after that check (on_starting removes it),
    // so the workers themselves fail to boot.
    const dir = mkdtempSync(join(tmpdir(), "gateway-vanishing-"));
    const config = join(dir, "..", `${basename(dir)}.config.js`);
    writeFileSync(
      config,
      `import { rmSync } from "node:fs";\nexport function on_starting() { rmSync(${JSON.stringify(dir)}, { recursive: true }); }\n`,
    );
    const server = gateway(["-w", "2", "-c", config, "--worker-tmp-dir", dir, `${APPS}/slow.js`]);
    const { code } = await server.exited;
    rmSync(config, { force: true });
    expect(code).toBe(3);
    expect(server.log).toMatch(
      /\[ERROR\] Worker failed to boot: ENOENT: no such file or directory, open '\/tmp\/gateway-vanishing-/,
    );
    expect(server.log).toMatch(/Shutting down: Worker failed to boot \(pid:\d+, exit code 3\)/);
    expect(server.log.match(/Booting worker/g)).toHaveLength(2);
    expect(server.log).not.toMatch(/^\s+at /m); // no stack trace
  });

  it("workers that die while booting without an exit code of 3/4 are counted: exit 3 past the budget", async () => {
    const server = gateway(["-w", "2", `${APPS}/exits-at-import.js`]);
    const { code } = await server.exited;
    expect(code).toBe(3);
    for (let failure = 1; failure < BOOT_FAILURE_BUDGET; failure++)
      expect(server.log).toContain(
        `(exit code 1): boot failure ${failure} of ${BOOT_FAILURE_BUDGET} before giving up`,
      );
    expect(server.log).toMatch(/Shutting down: Worker failed to boot \(pid:\d+, exit code 1\)/);
    // The first two, then one replacement per failure but the last.
    expect(server.log.match(/Booting worker/g)).toHaveLength(2 + BOOT_FAILURE_BUDGET - 1);
  });

  it("an address that cannot be bound stops the server (exit 3)", async () => {
    const first = await gateway(["-w", "1", `${APPS}/slow.js`]).ready(1);
    const second = new GatewayProcess(["-b", `127.0.0.1:${first.port}`, `${APPS}/slow.js`]);
    started.push(second);
    // The first master's listener is shared with its workers; a second master cannot bind it.
    const { code } = await second.exited;
    expect(code).toBe(3);
    // Found before any worker starts (the master binds each address for a moment first).
    expect(second.log).toMatch(
      /^gateway: error: --bind: cannot listen on 127\.0\.0\.1:\d+: the address is in use by another process\n$/,
    );
  });
});
