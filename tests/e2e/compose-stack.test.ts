/**
 * `docker compose up`: nginx in front of three gateway replicas (compose.yaml plus the test
 * overlay tests/e2e/compose.e2e.yaml, which serves tests/fixtures/apps/docker-probe.js: the hello
 * app at "/", and pages showing the environ, the replica and a slow request).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment } from "testcontainers";
import {
  configureTestcontainers,
  containerLogs,
  docker,
  REPO_ROOT,
  skipWithoutEngine,
} from "./engine.js";

configureTestcontainers();
const { skip, problem } = skipWithoutEngine("e2e: compose stack");
const REPLICAS = 3;
const project = `foobar-e2e-${process.pid}`;

describe.skipIf(skip)("the compose stack: nginx on 8000 in front of the gateway", () => {
  let stack: StartedDockerComposeEnvironment | undefined;
  let base = "";

  const gatewayIds = () => docker(["compose", "-p", project, "ps", "-q", "gateway"]).split("\n");
  const nginxLog = () => containerLogs(stack!.getContainer("nginx-1").getId());

  beforeAll(async () => {
    if (problem !== null) throw new Error(problem);
    stack = await new DockerComposeEnvironment(REPO_ROOT, [
      "compose.yaml",
      "tests/e2e/compose.e2e.yaml",
    ])
      .withProjectName(project)
      .withBuild()
      // Any free host port: the default (8000) is checked below without binding it.
      .withEnvironment({ FOOBAR_PORT: "0" })
      .withStartupTimeout(180_000)
      .up();
    const nginx = stack.getContainer("nginx-1");
    base = `http://${nginx.getHost()}:${nginx.getMappedPort(8000)}`;
  });

  afterAll(async () => {
    await stack?.down({ timeout: 10_000 });
  });

  it("publishes nginx on port 8000 by default, and of the gateway only its stats page, on loopback", () => {
    const config = JSON.parse(docker(["compose", "config", "--format", "json"], 30_000)) as {
      services: Record<
        string,
        { ports?: { target: number; published?: string; host_ip?: string }[] }
      >;
    };
    expect(config.services.nginx?.ports).toEqual([
      expect.objectContaining({ target: 8000, published: "8000" }),
    ]);
    // The arbiter's page (issue 29): the host's 127.0.0.1, a port Docker picks per replica.
    expect(config.services.gateway?.ports).toEqual([
      { mode: "ingress", host_ip: "127.0.0.1", target: 9100, protocol: "tcp" },
    ]);
  });

  it("serves hello through nginx, which hides its version", async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("Hello, World!");
    expect(response.headers.get("server")).toBe("nginx");
  });

  it("lets the app see the client's address and scheme, forwarded by nginx and trusted by the gateway", async () => {
    const marker = randomUUID();
    const response = await fetch(`${base}/environ?${marker}`, {
      headers: { "X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https" },
    });
    expect(response.status).toBe(200);
    const environ = (await response.json()) as Record<string, string>;
    // nginx logs the client address it saw first on the line; that is who the app must see.
    const logLine = nginxLog()
      .split("\n")
      .find((line) => line.includes(marker));
    const clientAddress = /(?:\|\s+)?(\S+) - /.exec(logLine ?? "")?.[1];
    expect(clientAddress).toMatch(/^[\d.]+$/);
    expect(environ.REMOTE_ADDR).toBe(clientAddress);
    // The TCP peer was nginx, not the client: the gateway trusted nginx's headers over it…
    expect(environ["gateway.peer_addr"]).toBeDefined();
    expect(environ["gateway.peer_addr"]).not.toBe(clientAddress);
    // …and nginx replaced what the client claimed, so it cannot forge address or scheme.
    expect(environ.HTTP_X_FORWARDED_FOR).toBe(clientAddress);
    expect(environ.HTTP_X_FORWARDED_PROTO).toBe("http");
    expect(environ["tsgi.url_scheme"]).toBe("http");
    expect(environ.HTTP_HOST).toBe(new URL(base).host);
  });

  it(`spreads requests over all ${REPLICAS} gateway replicas`, async () => {
    const ids = gatewayIds();
    expect(ids).toHaveLength(REPLICAS);
    const answered = new Set<string>();
    for (let i = 0; i < REPLICAS * 6; i++) {
      const response = await fetch(`${base}/replica`);
      answered.add(((await response.json()) as { hostname: string }).hostname);
    }
    // A container's hostname is the first 12 characters of its id.
    expect([...answered].sort()).toEqual(ids.map((id) => id.slice(0, 12)).sort());
  });

  it("lets a slow request finish when the gateway containers are stopped under it", async () => {
    const ids = gatewayIds();
    const slow = fetch(`${base}/slow?ms=3000`);
    // Wait until a replica has started the request (it says so in its log).
    const startedOn = await waitFor(() =>
      ids.find((id) => containerLogs(id).includes("slow request started")),
    );
    docker(["stop", ...ids]); // SIGTERM to every replica; returns once they have exited
    const response = await slow;
    expect(response.status).toBe(200);
    const body = (await response.json()) as { hostname: string; sleptMs: number };
    expect(body).toEqual({ hostname: startedOn.slice(0, 12), sleptMs: 3000 });
    for (const id of ids)
      expect(docker(["inspect", id, "--format", "{{.State.ExitCode}}"])).toBe("0");
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
