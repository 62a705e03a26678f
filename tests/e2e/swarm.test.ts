/**
 * The stack on a single-node Docker Swarm (docker/stack.yaml, docs/docker.md "Docker Swarm"):
 * `docker swarm init`, `docker stack deploy`, three gateway tasks behind nginx published in host
 * mode, then a rolling update (`docker service update --force`, start-first) under a steady
 * keep-alive load of GETs and POSTs, from a client that never retries, with 0 failed GETs (a POST lost to a closing socket is counted: ./load.ts).
 * The engine always leaves the swarm afterwards.
 *
 * The engine must not be in a swarm already: the test refuses to take over one it did not make.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { docker, REPO_ROOT, skipWithoutEngine } from "./engine.js";
import { freePort } from "../helpers/net.js";
import { expectGracefulScenario, underLoad, waitForHostnames } from "./load.js";
import { waitUntil } from "../process/gateway-process.js";
import { expectConfinedProcesses, HARDENED, hardeningOf, inspectContainer } from "./hardening.js";

// A rolling update waits for each of 3 tasks to turn healthy plus the update delay: tens of
// seconds, more on a loaded machine, so well past the suite's 30 s default.
vi.setConfig({ testTimeout: 240_000 });
const { skip, problem } = skipWithoutEngine("e2e: swarm");
const STACK = `foobar-swarm-${process.pid}`;
const BROWSER = { Accept: "text/html" };

/** Runs a docker command; false if it failed (for a step that succeeds once the engine is done). */
function dockerSucceeds(args: string[]): boolean {
  try {
    docker(args);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip)("Docker Swarm: docker stack deploy of docker/stack.yaml", () => {
  let joined = false;
  let base = "";

  const tasks = () =>
    docker([
      ...["service", "ps", `${STACK}_gateway`, "--filter", "desired-state=running"],
      ...["--format", "{{.ID}} {{.CurrentState}}"],
    ])
      .split("\n")
      .filter((line) => /Running/.test(line));

  beforeAll(async () => {
    if (problem !== null) throw new Error(problem);
    const state = docker(["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    if (state !== "inactive")
      throw new Error(`the engine is already in a swarm (${state}); leave it first`);
    // The bridge's gateway address is the host's docker0 address: an address every engine has.
    const docker0 = docker([
      ...["network", "inspect", "bridge"],
      ...["--format", "{{(index .IPAM.Config 0).Gateway}}"],
    ]);
    docker(["swarm", "init", "--advertise-addr", docker0]);
    joined = true;
    docker(["compose", "build", "-q", "gateway"]);
    const port = await freePort();
    const tlsPort = await freePort();
    await promisify(execFile)(
      "docker",
      [
        ...["stack", "deploy", "--resolve-image", "never", "--detach=false"],
        ...["-c", "docker/stack.yaml", STACK],
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, FOOBAR_PORT: String(port), FOOBAR_TLS_PORT: String(tlsPort) },
        timeout: 300_000,
      },
    );
    base = `http://127.0.0.1:${port}`;
    await waitUntil(
      async () => {
        const response = await fetch(`${base}/`).catch(() => undefined);
        return response?.status === 200 && tasks().length === 3;
      },
      120_000,
      500,
    );
  });

  afterAll(async () => {
    if (!joined) return;
    try {
      // `stack rm` can fail to remove the overlay network while a stopping task still holds it
      // ("network … is in use by task"); it succeeds once the tasks are gone, so ask again.
      await waitUntil(() => dockerSucceeds(["stack", "rm", STACK]), 60_000, 2_000);
    } finally {
      docker(["swarm", "leave", "--force"]);
      // nginx's tmpfs volumes (`stack rm` leaves volumes): gone once no container holds them.
      await waitUntil(
        () => {
          const volumes = docker([
            ...["volume", "ls", "-q", "--filter", `label=com.docker.stack.namespace=${STACK}`],
          ]);
          return volumes === "" || dockerSucceeds(["volume", "rm", ...volumes.split("\n")]);
        },
        60_000,
        2_000,
      );
    }
  });

  it("runs every task hardened as in compose: read-only, no capabilities, limits, no process as root", () => {
    const containers = docker([
      ...["ps", "-q", "--filter", `label=com.docker.stack.namespace=${STACK}`],
    ])
      .split("\n")
      .map(inspectContainer);
    const services = containers.map((c) => c.Config.Labels["com.docker.swarm.service.name"]);
    expect([...new Set(services)].sort()).toEqual([`${STACK}_gateway`, `${STACK}_nginx`]);
    for (const container of containers) {
      const service = container.Config.Labels["com.docker.swarm.service.name"]!;
      const { noNewPrivileges, ...settings } = hardeningOf(container);
      // Docker 20.10's Swarm has no no-new-privileges option (docker/stack.yaml): whatever the
      // engine set, the processes must show it.
      const { noNewPrivileges: _, ...expected } = HARDENED;
      expect({ service, ...settings }).toEqual({ service, ...expected, tmpfs: [] });
      const volumes = (container.HostConfig.Mounts ?? [])
        .filter((mount) => mount.Type === "volume")
        .map((mount) => mount.Target)
        .sort();
      expect(volumes, service).toEqual(
        service.endsWith("_nginx")
          ? ["/etc/nginx/https-only.d", "/etc/nginx/tls", "/run", "/var/cache/nginx"]
          : [],
      );
      expectConfinedProcesses(container.Id, service, noNewPrivileges);
    }
  });

  it("serves through nginx from all 3 gateway tasks (dnsrr: nginx sees each task)", async () => {
    const seen = await waitForHostnames(`${base}/`, (hosts) => hosts.size === 3, {
      timeoutMs: 30_000,
      intervalMs: 500,
      headers: BROWSER,
    });
    expect(seen.size).toBe(3);
  });

  it("rolls every gateway task over (service update, start-first) with 0 failed GETs and POSTs", async () => {
    const before = tasks().map((line) => line.split(" ")[0]);
    const counts = await underLoad(
      `${base}/`,
      () =>
        promisify(execFile)(
          "docker",
          ["service", "update", "--force", "--detach=false", `${STACK}_gateway`],
          { cwd: REPO_ROOT, timeout: 300_000 },
        ),
      BROWSER,
    );
    expectGracefulScenario("swarm: rolling update of 3 tasks", counts);
    const after = tasks().map((line) => line.split(" ")[0]);
    expect(after).toHaveLength(3);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
  });
});
