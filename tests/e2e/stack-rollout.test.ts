/**
 * The compose stack in production (docs/docker.md, "Running it for real"): nginx in front of the
 * gateway replicas, driven with the commands the docs give, under a steady 8-connection
 * keep-alive GET load (./load.ts) that counts every failed request:
 *
 *  - docker/rollout.sh replaces every replica (1, then 3) with 0 failed requests;
 *  - `docker compose up -d --scale gateway=3 --no-recreate` is followed by nginx within 15 s
 *    (nginx/follow-upstreams.sh), and scaling back to 1 fails 0 requests;
 *  - `docker kill` of one of three replicas fails 0 (idempotent) requests;
 *  - the hello page names the container that served it.
 *
 * Only the gateway and nginx services run (the demo's wsgi and backend are not needed here).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configureTestcontainers, docker, REPO_ROOT, skipWithoutEngine } from "./engine.js";
import { expectNoFailure, hostnameIn, underLoad as underLoadOn } from "./load.js";
import { sleep, waitUntil } from "../process/gateway-process.js";

configureTestcontainers();
// Each rollout builds, starts, health-checks and drains containers: tens of seconds, more on a
// loaded machine, so well past the suite's 30 s default.
vi.setConfig({ testTimeout: 240_000 });
const { skip, problem } = skipWithoutEngine("e2e: stack rollout");
const project = `foobar-stack-${process.pid}`;
// Any free host port for nginx (the default, 8000, may be taken on a developer machine).
process.env.FOOBAR_PORT = "0";
const BROWSER = { Accept: "text/html" };

const compose = (args: string[], timeoutMs?: number) =>
  docker(["compose", "-p", project, ...args], timeoutMs);
const replicaIds = () => compose(["ps", "-q", "gateway"]).split("\n").filter(Boolean).sort();
const shortIds = () => replicaIds().map((id) => id.slice(0, 12));
/**
 * Runs a command without blocking the event loop (the load runs in this process meanwhile);
 * returns its stderr, where docker compose and docker/rollout.sh report what they did.
 */
async function run(file: string, args: string[]): Promise<string> {
  const { stderr } = await promisify(execFile)(file, args, { cwd: REPO_ROOT, timeout: 300_000 });
  return stderr.trim();
}
const scale = (n: number) =>
  run("docker", [
    ...["compose", "-p", project, "up", "-d", "--no-deps", "--no-build", "--no-recreate"],
    ...["--scale", `gateway=${n}`, "gateway"],
  ]);
const rollout = async () =>
  console.info(
    `[e2e stack] docker/rollout.sh:\n${await run("docker/rollout.sh", ["-p", project])}`,
  );

describe.skipIf(skip)("the stack in production: rollout, scaling, a killed replica", () => {
  let base = "";

  const underLoad = (during: () => Promise<unknown>) => underLoadOn(`${base}/`, during, BROWSER);

  beforeAll(async () => {
    if (problem !== null) throw new Error(problem);
    compose(["up", "-d", "--build", "--wait", "--scale", "gateway=1", "gateway", "nginx"]);
    const published = compose(["port", "nginx", "8000"]); // 0.0.0.0:49153
    base = `http://127.0.0.1:${published.split(":").pop()}`;
  });

  afterAll(() => {
    if (!skip) compose(["down", "--timeout", "10", "--volumes"]);
  });

  it("names the serving container on the hello page (its host name is its short id)", async () => {
    const html = await (await fetch(`${base}/`, { headers: BROWSER })).text();
    expect(html).toContain(`<code id="hostname">${shortIds()[0]}</code>`);
    expect(html).toMatch(/<code id="worker-pid">\d+<\/code>/);
  });

  it("rolls out a new replica with 1 running: 0 failed requests", async () => {
    const before = shortIds();
    const counts = await underLoad(rollout);
    expectNoFailure("stack: rollout, 1 replica", counts);
    const after = shortIds();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    // Both the old and the new replica answered during the rollout, and nothing else.
    expect([...counts.hostnames].sort()).toEqual([...before, ...after].sort());
  });

  it("is followed by nginx within 15 s when scaled to 3", async () => {
    await scale(3);
    const ids = shortIds();
    expect(ids).toHaveLength(3);
    const started = Date.now();
    const seen = new Set<string>();
    while (seen.size < 3) {
      expect(Date.now() - started, `nginx answered only from ${[...seen].join(", ")}`).toBeLessThan(
        15_000,
      );
      // nginx reloads as it follows the replicas, and its old workers close their idle
      // keep-alive connections: a fetch that reuses one just then fails before any response
      // (what the load's retries count, tests/e2e/load.ts). This test asks only which
      // replicas answer, so it polls again.
      const html = await fetch(`${base}/`, { headers: BROWSER })
        .then((response) => response.text())
        .catch((error: unknown) => {
          if ((error as { cause?: { code?: string } }).cause?.code === "UND_ERR_SOCKET") return "";
          throw error;
        });
      const host = hostnameIn(html);
      if (host !== undefined) seen.add(host);
      await sleep(50);
    }
    console.info(`[e2e stack] nginx followed 1 -> 3 replicas in ${Date.now() - started} ms`);
    expect([...seen].sort()).toEqual(ids);
  });

  it("rolls out new replicas with 3 running: 0 failed requests", async () => {
    const before = shortIds();
    const counts = await underLoad(rollout);
    expectNoFailure("stack: rollout, 3 replicas", counts);
    const after = shortIds();
    expect(after).toHaveLength(3);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
  });

  it("loses no GET when one of 3 replicas is killed (docker kill)", async () => {
    const [victim] = replicaIds();
    const counts = await underLoad(async () => {
      await run("docker", ["kill", victim!]);
      await sleep(3000);
    });
    expectNoFailure("stack: docker kill, 1 of 3", counts);
    // Back to three for the next test, whatever the restart policy did with the killed one.
    await scale(3);
  });

  it("scales back to 1 under load with 0 failed requests", async () => {
    await scale(3); // (already 3 after the tests above; this test also runs alone, with -t)
    await waitUntil(async () => (await routedReplicas()) === 3, 30_000, 250);
    const counts = await underLoad(() => scale(1));
    expectNoFailure("stack: scale 3 -> 1", counts);
    expect(replicaIds()).toHaveLength(1);
  });

  /** How many replicas nginx's upstream file lists (nginx/follow-upstreams.sh writes it). */
  async function routedReplicas(): Promise<number> {
    const listing = compose([
      "exec",
      "-T",
      "nginx",
      "cat",
      "/etc/nginx/foobar-upstreams/gateway.conf",
    ]);
    return listing
      .split("\n")
      .filter((line) => line.startsWith("server ") && !line.includes("127.0.0.1")).length;
  }
});
