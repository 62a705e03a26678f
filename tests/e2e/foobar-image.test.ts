/**
 * The README's own commands: `docker build -t foobar .`, then `docker run -p 8000:8000 -d foobar`
 * serves the hello app from a master with 2 workers, and `docker stop` / `docker rm -f` end it at once (node, PID 1, handles
 * SIGTERM). The host port is left to Docker so the test never collides with a local server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { configureTestcontainers, containerLogs, docker, skipWithoutEngine } from "./engine.js";

configureTestcontainers();
const { skip, problem } = skipWithoutEngine("e2e: foobar image");

/** What an image adds to the Node base image it is built on, in MB (for the log). */
function megabytesOnBase(image: string): string {
  const bytes = (name: string) =>
    Number(docker(["image", "inspect", name, "--format", "{{.Size}}"]));
  return ((bytes(image) - bytes("node:24-bookworm-slim")) / 1e6).toFixed(1);
}

describe.skipIf(skip)("the foobar image (docker build -t foobar .)", () => {
  let container: StartedTestContainer | undefined;

  beforeAll(async () => {
    if (problem !== null) throw new Error(problem);
    docker(["build", "-t", "foobar", "."]);
    container = await new GenericContainer("foobar")
      .withExposedPorts(8000)
      .withWaitStrategy(Wait.forHttp("/", 8000).forStatusCode(200))
      .withStartupTimeout(60_000)
      .start();
  });

  afterAll(async () => {
    if (container !== undefined) docker(["rm", "-f", container.getId()]);
  });

  it("serves hello on port 8000: Hello, World! to curl, the teaching page to a browser", async () => {
    const url = `http://${container!.getHost()}:${container!.getMappedPort(8000)}/`;
    const response = await fetch(url, { headers: { Accept: "*/*" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("Hello, World!");
    const page = await fetch(url, { headers: { Accept: "text/html" } });
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/worker-pid">\d+/);
    // The Host line is the container's id, as `docker ps` shows it (the first 12 characters).
    expect(html).toContain(`id="hostname">${container!.getId().slice(0, 12)}<`);
  });

  it("runs as an unprivileged user, with a health check, the gateway's command as PID 1", () => {
    const config = JSON.parse(
      docker(["image", "inspect", "foobar", "--format", "{{json .Config}}"]),
    ) as {
      User: string;
      Healthcheck?: { Test: string[] };
      Entrypoint: string[];
      Cmd: string[];
    };
    expect(config.User).toBe("node");
    expect(config.Healthcheck?.Test).toEqual(["CMD", "node", "docker/healthcheck.js"]);
    expect(config.Entrypoint).toEqual(["gateway"]);
    expect(config.Cmd).toEqual(["hello/hello-page.js:helloPage"]);
    const health = docker(["inspect", container!.getId(), "--format", "{{.State.Health.Status}}"]);
    expect(["starting", "healthy"]).toContain(health);
  });

  it("holds the installed gateway and contract packages only: no demo, sources, maps or dev tools", () => {
    const listing = docker([
      ...["run", "--rm", "--entrypoint", "sh", "foobar", "-c"],
      "ls -A /app /app/node_modules/@foobar && find /app/node_modules/@foobar -name '*.ts' ! -name '*.d.ts' -o -name '*.map' | head -n 3",
    ]);
    expect(listing).toBe(
      [
        "/app:",
        "docker\nhello\nnode_modules\npackage.json",
        "",
        "/app/node_modules/@foobar:",
        "gateway\ntsgi",
      ].join("\n"),
    );
    const modules = docker(["run", "--rm", "--entrypoint", "ls", "foobar", "/app/node_modules"]);
    for (const absent of ["typescript", "vitest", "fastify", "express", "hono", "xslt-processor"])
      expect(modules.split("\n")).not.toContain(absent);
    expect(modules.split("\n")).toContain("prom-client");
    console.info(`[e2e] foobar image: ${megabytesOnBase("foobar")} MB on top of its base image`);
  });

  it("runs a pre-fork master with 2 workers unless told otherwise", async () => {
    const config = JSON.parse(
      docker(["image", "inspect", "foobar", "--format", "{{json .Config.Env}}"]),
    ) as string[];
    expect(config).toContain("WEB_CONCURRENCY=2");
    await expect
      .poll(() => containerLogs(container!.getId()).match(/Booting worker with pid/g)?.length ?? 0)
      .toBe(2);
  });

  it("gives each Dockerfile its own image by its own name, with no --target", () => {
    // Dockerfile.gateway is the same file: every layer comes from the build cache.
    docker(["build", "-q", "-f", "Dockerfile.gateway", "-t", "foobar/gateway", "."]);
    const id = (image: string) => docker(["image", "inspect", image, "--format", "{{.Id}}"]);
    expect(id("foobar/gateway")).toBe(id("foobar"));
    // Dockerfile.app: the demo app's package installed beside the gateway, named as the command.
    docker(["build", "-q", "-f", "Dockerfile.app", "-t", "foobar-e2e/app", "."]);
    try {
      const cmd = docker([
        "image",
        "inspect",
        "foobar-e2e/app",
        "--format",
        "{{json .Config.Cmd}}",
      ]);
      expect(JSON.parse(cmd)).toEqual(["@foobar/app"]);
      const check = docker(["run", "--rm", "foobar-e2e/app", "--check-config", "@foobar/app"]);
      expect(check).toContain("@foobar/app → file:///app/node_modules/@foobar/app/dist/index.js");
      console.info(`[e2e] app image: ${megabytesOnBase("foobar-e2e/app")} MB on top of its base`);
    } finally {
      docker(["rmi", "foobar-e2e/app"]);
    }
    // Two builds: Dockerfile.app's install of the demo's frameworks is not cached on a fresh
    // machine, and took over 30 s beside stress-ng. As long as the hooks' builds may take.
  }, 300_000);

  it("stops on SIGTERM as PID 1: docker stop ends it cleanly, without the SIGKILL fallback", () => {
    const started = performance.now();
    docker(["stop", container!.getId()]);
    const seconds = (performance.now() - started) / 1000;
    console.info(`[e2e] docker stop of an idle foobar container took ${seconds.toFixed(2)} s`);
    // Exit status 0 is the gateway's own graceful exit; SIGKILL after the timeout would be 137.
    expect(docker(["inspect", container!.getId(), "--format", "{{.State.ExitCode}}"])).toBe("0");
  });
});
