/**
 * The HTTPS-only switch (docs/docker.md, "HTTPS"): nginx's image with the project's config and
 * nginx/tls-setup.sh, as compose runs it, once with FOOBAR_HTTPS_ONLY=on and once without. No
 * gateway is needed: the switch acts before nginx proxies anything (with no replica, nginx
 * answers 502 over HTTPS, which still carries the HSTS header).
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { docker, REPO_ROOT, skipWithoutEngine } from "./engine.js";
import { waitUntil } from "../process/gateway-process.js";
import { get } from "node:https";

// A container start on a loaded machine takes seconds: past the suite's 30 s default.
vi.setConfig({ testTimeout: 120_000 });
const { skip, problem } = skipWithoutEngine("e2e: HTTPS-only switch");
const IMAGE = process.env.NGINX_IMAGE ?? "nginx:1.30-trixie";
const started: string[] = [];
/** The HSTS header of an HTTPS GET (nginx's certificate is self-signed: taken, as `curl -k` does). */
function hstsOf(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    get(url, { rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.headers["strict-transport-security"]);
    }).on("error", reject),
  );
}

/** Starts nginx as compose.yaml does, on free host ports; returns its two base URLs. */
async function startNginx(env: Record<string, string>): Promise<{ http: string; https: string }> {
  const id = docker([
    ...["run", "-d", "--rm", "-p", "127.0.0.1::8000", "-p", "127.0.0.1::8443"],
    ...Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
    ...["-v", `${REPO_ROOT}nginx/foobar.conf:/etc/nginx/conf.d/default.conf:ro`],
    ...["-v", `${REPO_ROOT}nginx/tls-setup.sh:/docker-entrypoint.d/40-foobar-tls.sh:ro`],
    IMAGE,
  ]);
  started.push(id);
  const port = (target: number) =>
    docker(["port", id, String(target)])
      .split(":")
      .pop()!;
  const urls = { http: `http://127.0.0.1:${port(8000)}`, https: `https://127.0.0.1:${port(8443)}` };
  await waitUntil(
    async () => {
      // (Docker's port proxy takes connections before nginx listens: never wait on one long.)
      const health = `${urls.http}/nginx-health`;
      const response = await fetch(health, { signal: AbortSignal.timeout(2000) }).catch(() => {});
      return response?.ok === true;
    },
    60_000,
    200,
  );
  return urls;
}

describe.skipIf(skip)("FOOBAR_HTTPS_ONLY: redirect HTTP to HTTPS and send HSTS", () => {
  afterAll(() => {
    for (const id of started) docker(["rm", "-f", id]);
  });

  it("on: HTTP redirects (308) to the same URL on https, HTTPS responses carry HSTS", async () => {
    if (problem !== null) throw new Error(problem);
    const { http, https } = await startNginx({
      FOOBAR_HTTPS_ONLY: "on",
      FOOBAR_HTTPS_PORT: "8443",
    });
    const redirect = await fetch(`${http}/a/b?c=1`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("https://127.0.0.1:8443/a/b?c=1");
    expect(await hstsOf(`${https}/`)).toBe("max-age=31536000");
    // The container's health check still answers on HTTP.
    expect((await fetch(`${http}/nginx-health`)).status).toBe(200);
  });

  it("off (the default): HTTP is served as it is, and no HSTS", async () => {
    const { http, https } = await startNginx({});
    const plain = await fetch(`${http}/`, { redirect: "manual" });
    expect(plain.status).not.toBe(308);
    expect(plain.headers.get("location")).toBeNull();
    expect(await hstsOf(`${https}/`)).toBeUndefined();
  });
});
