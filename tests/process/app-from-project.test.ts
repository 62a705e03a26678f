/**
 * `gateway PACKAGE[:EXPORT]` finds the package as the project sees it: from the working
 * directory's node_modules, wherever the gateway itself is installed. Here the project is a
 * temporary folder with its own node_modules, and the gateway is this repository's build, which
 * lives outside it (a global install, or another folder, is the same case): looking the package
 * up from the gateway's own folder would not find it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, GatewayProcess, get } from "./gateway-process.js";

const project = mkdtempSync(join(tmpdir(), "gateway-project-"));
const pkg = join(project, "node_modules", "acme-site");
mkdirSync(join(pkg, "dist"), { recursive: true });
writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-site", private: true }));
writeFileSync(
  join(pkg, "package.json"),
  JSON.stringify({
    name: "acme-site",
    version: "1.0.0",
    type: "module",
    exports: "./dist/site.js",
  }),
);
writeFileSync(
  join(pkg, "dist/site.js"),
  [
    "export default (environ, startResponse) => {",
    '  startResponse("200 OK", [["Content-Type", "text/plain"]]);',
    "  return [new TextEncoder().encode(`acme-site at ${environ.PATH_INFO}`)];",
    "};",
  ].join("\n"),
);
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("an installed package named as the app, from a project the gateway is not in", () => {
  it("the gateway really is outside the project", () => {
    expect(relative(project, CLI)).toMatch(/^\.\.\//);
  });

  it("--check-config finds and imports it", () => {
    const result = spawnSync(
      process.execPath,
      [CLI, "--check-config", "-b", "127.0.0.1:0", "acme-site"],
      {
        cwd: project,
        encoding: "utf8",
        env: { ...process.env, WEB_CONCURRENCY: "", GATEWAY_CMD_ARGS: "", PORT: "" },
        timeout: 20_000,
      },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `app: acme-site → ${pathToFileURL(join(pkg, "dist/site.js")).href}\n`,
    );
    expect(result.stdout).toContain("configuration and app are OK");
  });

  it("a real start serves it", async () => {
    const gateway = new GatewayProcess(
      ["-b", "127.0.0.1:0", "acme-site"],
      { GATEWAY_CMD_ARGS: "", PORT: "" },
      { command: [process.execPath, CLI], cwd: project },
    );
    try {
      await gateway.listening();
      expect(await get(gateway.port, "/home")).toEqual({ status: 200, body: "acme-site at /home" });
    } finally {
      await gateway.kill();
    }
  });
});
