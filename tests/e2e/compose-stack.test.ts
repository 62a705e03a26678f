/**
 * `docker compose up`: nginx in front of three gateway replicas (compose.yaml plus the test
 * overlay tests/e2e/compose.e2e.yaml, which serves tests/fixtures/apps/docker-probe.js: the hello
 * app at "/", and pages showing the environ, the replica and a slow request).
 */
import { execFileSync, spawnSync } from "node:child_process";
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
  let secure = "";

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
      .withEnvironment({ FOOBAR_PORT: "0", FOOBAR_TLS_PORT: "0" })
      .withStartupTimeout(180_000)
      .up();
    const nginx = stack.getContainer("nginx-1");
    base = `http://${nginx.getHost()}:${nginx.getMappedPort(8000)}`;
    secure = `https://${nginx.getHost()}:${nginx.getMappedPort(8443)}`;
  });

  afterAll(async () => {
    await stack?.down({ timeout: 10_000 });
  });

  it("publishes nginx on ports 8000 and 8443 by default, and of the gateway only its stats page, on loopback", () => {
    const config = JSON.parse(docker(["compose", "config", "--format", "json"], 30_000)) as {
      services: Record<
        string,
        { ports?: { target: number; published?: string; host_ip?: string }[] }
      >;
    };
    expect(config.services.nginx?.ports).toEqual([
      expect.objectContaining({ target: 8000, published: "8000" }),
      expect.objectContaining({ target: 8443, published: "8443" }),
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

  it("serves HTTPS with HTTP/2 on 8443, with a certificate made when nginx started", () => {
    // curl as a user would: -k, the certificate is self-signed (for localhost).
    const version = execFileSync(
      "curl",
      [
        "--http2",
        "-k",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        `${secure}/`,
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(version).toBe("2 200");
    expect(nginxLog()).toContain("made a self-signed one for localhost");
    const subject = execFileSync(
      "sh",
      [
        "-c",
        `openssl s_client -connect ${new URL(secure).host} </dev/null 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName`,
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(subject).toMatch(/CN\s*=\s*localhost/);
    expect(subject).toContain("DNS:localhost");
  });

  it("tells the app the scheme is https when the client came over TLS (X-Forwarded-Proto)", async () => {
    const environ = JSON.parse(
      execFileSync("curl", ["-k", "-sS", `${secure}/environ`], { encoding: "utf8" }),
    ) as Record<string, string>;
    expect(environ.HTTP_X_FORWARDED_PROTO).toBe("https");
    expect(environ["tsgi.url_scheme"]).toBe("https");
  });

  it("refuses a TLS 1.1 handshake, accepts TLS 1.2 and 1.3", () => {
    const handshake = (version: string, cipher: string[] = []) =>
      spawnSync(
        "openssl",
        ["s_client", "-connect", new URL(secure).host, `-${version}`, ...cipher],
        { input: "", encoding: "utf8", timeout: 30_000 },
      );
    // SECLEVEL=0: the client must offer TLS 1.1 for the server to be the one refusing it.
    const old = handshake("tls1_1", ["-cipher", "DEFAULT@SECLEVEL=0"]);
    expect(old.status).not.toBe(0);
    expect(old.stdout + old.stderr).toMatch(/alert protocol version|unsupported protocol/i);
    expect(handshake("tls1_2").stdout).toMatch(/New, TLSv1\.2|Protocol\s+: TLSv1\.2/);
    expect(handshake("tls1_3").stdout).toMatch(/New, TLSv1\.3|Protocol\s+: TLSv1\.3/);
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
