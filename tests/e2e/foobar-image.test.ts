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

  it("serves hello on port 8000", async () => {
    const response = await fetch(
      `http://${container!.getHost()}:${container!.getMappedPort(8000)}/`,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("Hello, World!");
  });

  it("runs as an unprivileged user, with a health check, on the gateway", () => {
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
    expect(config.Entrypoint).toEqual(["node", "dist/gateway/cli.js"]);
    expect(config.Cmd).toEqual(["dist/app/hello.js"]);
    const health = docker(["inspect", container!.getId(), "--format", "{{.State.Health.Status}}"]);
    expect(["starting", "healthy"]).toContain(health);
  });

  it("holds the compiled gateway and app side, with no sources, maps or dev tools", () => {
    const listing = docker([
      ...["run", "--rm", "--entrypoint", "sh", "foobar", "-c"],
      "ls -A /app /app/dist && find /app/dist -name '*.ts' -o -name '*.map' | head -n 3",
    ]);
    expect(listing).toBe(
      [
        "/app:",
        "dist\ndocker\nnode_modules\npackage.json",
        "",
        "/app/dist:",
        "app\ngateway\ntsgi",
      ].join("\n"),
    );
    // No dev tools among the dependencies.
    const modules = docker([
      "run",
      "--rm",
      "--entrypoint",
      "ls",
      "foobar",
      "/app/node_modules",
    ]).split("\n");
    for (const devTool of ["typescript", "vitest", "testcontainers", "eslint"])
      expect(modules).not.toContain(devTool);
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
    // Dockerfile.app: the demo app on the gateway image, one CMD more.
    docker(["build", "-q", "-f", "Dockerfile.app", "-t", "foobar-e2e/app", "."]);
    const cmd = docker(["image", "inspect", "foobar-e2e/app", "--format", "{{json .Config.Cmd}}"]);
    expect(JSON.parse(cmd)).toEqual(["dist/app/index.js"]);
    docker(["rmi", "foobar-e2e/app"]);
  });

  it("stops on SIGTERM as PID 1: docker stop ends it cleanly, without the SIGKILL fallback", () => {
    const started = performance.now();
    docker(["stop", container!.getId()]);
    const seconds = (performance.now() - started) / 1000;
    console.info(`[e2e] docker stop of an idle foobar container took ${seconds.toFixed(2)} s`);
    // Exit status 0 is the gateway's own graceful exit; SIGKILL after the timeout would be 137.
    expect(docker(["inspect", container!.getId(), "--format", "{{.State.ExitCode}}"])).toBe("0");
  });
});
