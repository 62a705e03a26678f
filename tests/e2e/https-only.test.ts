/**
 * The HTTPS-only switch (docs/docker.md, "HTTPS"): nginx's image with the project's config,
 * nginx/edge.conf and nginx/tls-setup.sh, as compose runs it (hardened: read-only, as uid 101), once with FOOBAR_HTTPS_ONLY=on and once without. No
 * gateway is needed: the switch acts before nginx proxies anything (with no replica, nginx
 * answers 502 over HTTPS, which still carries the HSTS header).
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { docker, skipWithoutEngine } from "./engine.js";
import { waitUntil } from "../process/gateway-process.js";
import { get } from "node:https";

// A container start on a loaded machine takes seconds: past the suite's 30 s default.
vi.setConfig({ testTimeout: 120_000 });
const { skip, problem } = skipWithoutEngine("e2e: HTTPS-only switch");
const IMAGE = process.env.NGINX_IMAGE ?? "nginx:1.30-trixie";
const started: string[] = [];
const EDGE_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
};
/** The headers of an HTTPS GET (nginx's certificate is self-signed: taken, as `curl -k` does). */
function headersOf(url: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolve, reject) =>
    get(url, { rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.headers);
    }).on("error", reject),
  );
}

interface ComposeNginx {
  read_only?: boolean;
  user?: string;
  cap_drop?: string[];
  security_opt?: string[];
  tmpfs?: string[];
  volumes: { source: string; target: string; read_only?: boolean }[];
}

/** compose.yaml's nginx service as `docker run` flags: its hardening, tmpfs and mounted files. */
function composeNginxFlags(): string[] {
  const config = JSON.parse(docker(["compose", "config", "--format", "json"], 30_000)) as {
    services: { nginx: ComposeNginx };
  };
  const nginx = config.services.nginx;
  return [
    ...(nginx.read_only === true ? ["--read-only"] : []),
    ...(nginx.user === undefined ? [] : ["--user", nginx.user]),
    ...(nginx.cap_drop ?? []).flatMap((cap) => ["--cap-drop", cap]),
    ...(nginx.security_opt ?? []).flatMap((option) => ["--security-opt", option]),
    ...(nginx.tmpfs ?? []).flatMap((mount) => ["--tmpfs", mount]),
    ...nginx.volumes.flatMap(({ source, target, read_only }) => [
      "-v",
      `${source}:${target}${read_only === true ? ":ro" : ""}`,
    ]),
  ];
}

/** Starts nginx as compose.yaml does, on free host ports; returns its two base URLs. */
async function startNginx(env: Record<string, string>): Promise<{ http: string; https: string }> {
  const id = docker([
    ...["run", "-d", "--rm", "-p", "127.0.0.1::8000", "-p", "127.0.0.1::8443"],
    ...Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
    ...composeNginxFlags(),
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

  it("on: HTTP redirects (308) to the same URL on https, HTTPS responses carry HSTS and the edge's headers", async () => {
    if (problem !== null) throw new Error(problem);
    const { http, https } = await startNginx({
      FOOBAR_HTTPS_ONLY: "on",
      FOOBAR_HTTPS_PORT: "8443",
    });
    const redirect = await fetch(`${http}/a/b?c=1`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("https://127.0.0.1:8443/a/b?c=1");
    const secure = await headersOf(`${https}/`);
    expect(secure["strict-transport-security"]).toBe("max-age=31536000");
    // HSTS is added beside nginx/edge.conf's headers, not instead of them.
    expect(secure).toMatchObject(EDGE_HEADERS);
    // The container's health check still answers on HTTP.
    expect((await fetch(`${http}/nginx-health`)).status).toBe(200);
  });

  it("off (the default): HTTP is served as it is, and no HSTS (the edge's headers still)", async () => {
    const { http, https } = await startNginx({});
    const plain = await fetch(`${http}/`, { redirect: "manual" });
    expect(plain.status).not.toBe(308);
    expect(plain.headers.get("location")).toBeNull();
    const secure = await headersOf(`${https}/`);
    expect(secure["strict-transport-security"]).toBeUndefined();
    expect(secure).toMatchObject(EDGE_HEADERS);
  });
});
