import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loopbackSite } from "../../../nginx/loopback.js";

const SHIPPED = readFileSync(new URL("../../../nginx/foobar.conf", import.meta.url), "utf8");
const where = { port: 8080, upstreamPort: 9090, logDir: "/tmp/x" };

describe("nginx/foobar.conf pointed at loopback", () => {
  it("leaves nothing of the compose stack in the shipped config, and the rest as shipped", () => {
    const site = loopbackSite(SHIPPED, where);
    expect(site).toContain("    server 127.0.0.1:9090 max_fails=0;");
    expect(site).toContain("    listen 127.0.0.1:8080 default_server;");
    expect(site).toContain("set $wsgi_upstream 127.0.0.1:9;");
    expect(site).toContain("access_log /tmp/x/access.log foobar;");
    expect(site).not.toMatch(/server gateway:8000|listen 8000|listen 8443|wsgi:8000|\/var\/log/);
    expect(site).not.toMatch(/^\s*(ssl_certificate|http2 on)/m);
    // Only those lines change: the same number of lines, the pool and headers as shipped.
    expect(site.split("\n")).toHaveLength(SHIPPED.split("\n").length);
    expect(site).toContain("keepalive 256;");
    expect(site).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
  });

  it("sets Gunicorn's port, a pool size and extra server directives when asked", () => {
    const site = loopbackSite(SHIPPED, {
      ...where,
      wsgiPort: 7070,
      keepalive: 4096,
      serverDirectives: "listen 127.0.0.1:8443 ssl;\n    add_header X-Peer $remote_addr$1;",
    });
    expect(site).toContain("set $wsgi_upstream 127.0.0.1:7070;");
    expect(site).toContain("    keepalive 4096;");
    expect(site).toMatch(
      /listen 127\.0\.0\.1:8080 default_server;\n\s+listen 127\.0\.0\.1:8443 ssl;/,
    );
    expect(site).toContain("add_header X-Peer $remote_addr$1;"); // written as given
  });

  it("rewrites a static upstream server too (an older config), and refuses a config it cannot point", () => {
    const older = [
      "upstream gateway {",
      "    server gateway:8000;",
      "    keepalive 16;",
      "}",
      "server {",
      "    listen 8000 default_server;",
      "}",
    ].join("\n");
    expect(loopbackSite(older, where)).toContain("    server 127.0.0.1:9090 max_fails=0;");
    expect(() => loopbackSite("server {}", where)).toThrow(/no line matches/);
    expect(() => loopbackSite(older, { ...where, keepalive: 1 })).not.toThrow();
    expect(() =>
      loopbackSite(older.replace("keepalive 16;", ""), { ...where, keepalive: 1 }),
    ).toThrow(/no line matches/);
  });
});
