/**
 * `docker compose up` with the original beside the port: nginx sends /wsgi/ to Debian's Gunicorn
 * (wsgi/, SCRIPT_NAME=/wsgi) and everything else to the gateway; the demo's /proxy/ balances
 * over the Python service and a second TypeScript backend, and /compare shows the environs the
 * gateway and Gunicorn built for the same request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment } from "testcontainers";
import { configureTestcontainers, REPO_ROOT, skipWithoutEngine } from "./engine.js";

configureTestcontainers();
const { skip, problem } = skipWithoutEngine("e2e: reference stack");
const project = `foobar-e2e-reference-${process.pid}`;

describe.skipIf(skip)("the compose stack with the WSGI original at /wsgi/", () => {
  let stack: StartedDockerComposeEnvironment | undefined;
  let base = "";

  beforeAll(async () => {
    if (problem !== null) throw new Error(problem);
    stack = await new DockerComposeEnvironment(REPO_ROOT, ["compose.yaml"])
      .withProjectName(project)
      .withBuild()
      .withEnvironment({ FOOBAR_PORT: "0", FOOBAR_TLS_PORT: "0" })
      .withStartupTimeout(540_000)
      .up();
    const nginx = stack.getContainer("nginx-1");
    base = `http://${nginx.getHost()}:${nginx.getMappedPort(8000)}`;
    // Four services, two images to build the first time: minutes on a busy 2-core machine.
  }, 600_000);

  afterAll(async () => {
    await stack?.down({ timeout: 10_000 });
  });

  it("answers curl at /wsgi/ from Gunicorn, mounted with SCRIPT_NAME=/wsgi", async () => {
    const hello = await fetch(`${base}/wsgi/`, { headers: { Accept: "*/*" } });
    expect(await hello.text()).toBe("Hello, World!");
    const response = await fetch(`${base}/wsgi/a%2Fb?x=1`, {
      headers: { Accept: "application/json" },
    });
    const { environ } = (await response.json()) as { environ: Record<string, string> };
    expect(environ).toMatchObject({
      SCRIPT_NAME: "/wsgi",
      PATH_INFO: "/a/b",
      QUERY_STRING: "x=1",
      RAW_URI: "/wsgi/a%2Fb?x=1",
      SERVER_SOFTWARE: "gunicorn/23.0.0",
    });
  });

  it("shows a browser Gunicorn's environ page, with the worker pid", async () => {
    const response = await fetch(`${base}/wsgi/`, { headers: { Accept: "text/html" } });
    const html = await response.text();
    expect(html).toContain("This page is a WSGI application");
    expect(html).toMatch(/<code id="worker-pid">\d+<\/code>/);
    expect(html).toContain('<th scope="row">gunicorn.socket</th>');
  });

  it("balances /proxy/ over two languages, and /proxy-health shows both", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${base}/proxy/`, { headers: { Accept: "text/html" } });
      expect(response.status).toBe(200);
      seen.add(/This page is a ([TW]SGI) application/.exec(await response.text())?.[1] ?? "?");
    }
    expect([...seen].sort()).toEqual(["TSGI", "WSGI"]);
    const health = (await (await fetch(`${base}/proxy-health`)).json()) as {
      url: string;
      healthy: boolean;
      served: number;
    }[];
    expect(health.map(({ url }) => url)).toEqual(["http://wsgi:8000/wsgi", "http://backend:8000"]);
    for (const upstream of health) {
      expect(upstream.healthy).toBe(true);
      expect(upstream.served).toBeGreaterThan(0);
    }
  });

  it("serves /compare with both environs and no unexplained difference", async () => {
    const response = await fetch(`${base}/compare/caf%C3%A9?x=1`, {
      headers: { Accept: "text/html" },
    });
    const html = await response.text();
    expect(response.status, html.slice(0, 2000)).toBe(200);
    expect(html).toMatch(/<dd id="compare-summary">.* 0 unexplained<\/dd>/);
    expect(html).toContain('data-key="gunicorn.socket"');
  });
});
