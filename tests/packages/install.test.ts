/**
 * The packages seen from outside, as a user of the gateway meets them: `npm pack` the contract
 * (@foobar/tsgi) and the gateway (@foobar/gateway), install the tarballs into a fresh project in
 * a temporary folder that has never seen this repository, and there:
 *
 * - write a three-line app and serve it with `npx gateway app.js` (the gateway's bin);
 * - serve an installed package's export by its name, as `gunicorn myproject.wsgi:application`;
 * - type-check a TypeScript app against the installed contract types (and see a wrong app fail).
 *
 * The tarballs are what `npm publish` would ship (the "files" of each package.json, built by
 * `npm run build`, which `npm test` runs first). No package of ours comes from a registry: the
 * gateway's dependency on the contract is met by the contract's own tarball.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayProcess, get, waitUntil } from "../process/gateway-process.js";

const REPO = resolve(".");
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const scratch = mkdtempSync(join(tmpdir(), "foobar-install-"));
const project = join(scratch, "my-site");

function run(command: string, args: string[], cwd = project): string {
  return execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 240_000,
  });
}

/** `npx gateway ARGS` in the project (after `--`, so npm leaves the options alone), listening. */
async function startGateway(args: string[]) {
  // A process group of its own, so one signal reaches npx, the master and its workers.
  const gateway = new GatewayProcess(
    ["-b", "127.0.0.1:0", ...args],
    { PORT: "" },
    { command: ["npx", "--no", "--", "gateway"], cwd: project, detached: true },
  );
  await gateway.listening(60_000);
  return Object.assign(gateway, {
    /** SIGTERM to the group: npx dies of it, the gateway stops gracefully and says so. */
    stop: async () => {
      process.kill(-gateway.pid, "SIGTERM");
      await gateway.exited;
      // (npx may be gone before the master has said it: wait on the log, not on npx.)
      await waitUntil(() => gateway.log.includes("Shutting down: Master"), 10_000);
    },
  });
}

let packs: Record<"tsgi" | "gateway", string>;

beforeAll(() => {
  const packDir = join(scratch, "packs");
  mkdirSync(packDir);
  run("npm", ["pack", "-w", "tsgi", "-w", "gateway", "--pack-destination", packDir], REPO);
  const tarball = (name: string) => {
    const file = readdirSync(packDir).find((entry) => entry.startsWith(`foobar-${name}-`));
    if (file === undefined) throw new Error(`npm pack made no tarball for ${name}`);
    return join(packDir, file);
  };
  packs = { tsgi: tarball("tsgi"), gateway: tarball("gateway") };

  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "my-site", private: true, type: "module" }, null, 2),
  );
  // prom-client (the gateway's one dependency of its own) is in npm's cache from `npm ci`.
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", packs.tsgi, packs.gateway]);
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("@foobar/tsgi and @foobar/gateway installed from their tarballs", () => {
  it("ship the compiled code, its types and a README; no sources, tests or maps", () => {
    for (const tarball of Object.values(packs)) {
      const files = run("tar", ["-tzf", tarball], scratch).trim().split("\n");
      expect(files).toContain("package/README.md");
      expect(files).toContain("package/package.json");
      expect(files.some((file) => file.endsWith(".d.ts"))).toBe(true);
      const stray = files.filter(
        (file) => /\.(ts|map)$/.test(file) && !file.endsWith(".d.ts") && file !== "package/",
      );
      expect(stray).toEqual([]);
    }
  });

  it("take the contract from its tarball, not from a registry", () => {
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string; version?: string }>;
    };
    expect(lock.packages["node_modules/@foobar/tsgi"]?.resolved).toMatch(/^file:.*\.tgz$/);
    expect(lock.packages["node_modules/@foobar/gateway"]?.resolved).toMatch(/^file:.*\.tgz$/);
    // One contract in the tree: the gateway does not get a copy of its own.
    expect(lock.packages["node_modules/@foobar/gateway/node_modules/@foobar/tsgi"]).toBeUndefined();
  });

  it("serve a three-line app with `npx gateway app.js`", async () => {
    writeFileSync(
      join(project, "app.js"),
      [
        "export default (environ, startResponse) => {",
        '  startResponse("200 OK", [["Content-Type", "text/plain"]]);',
        '  return [new TextEncoder().encode("Hello, World!")];',
        "};",
      ].join("\n"),
    );
    const gateway = await startGateway(["app.js"]);
    try {
      expect(await get(gateway.port, "/")).toEqual({ status: 200, body: "Hello, World!" });
    } finally {
      await gateway.stop();
    }
    expect(gateway.log).toMatch(/Booting worker with pid: \d+/);
  });

  it("serve an installed package's export by its name, found from the project", async () => {
    // A package the project depends on (here written in place, as npm would have put it).
    const pages = join(project, "node_modules/@acme/pages");
    mkdirSync(join(pages, "dist"), { recursive: true });
    writeFileSync(
      join(pages, "package.json"),
      JSON.stringify({
        name: "@acme/pages",
        version: "1.0.0",
        type: "module",
        // Only an "import" condition: require's lookup cannot see it, import's can.
        exports: { "./greeting": { import: "./dist/greeting.js" } },
      }),
    );
    writeFileSync(
      join(pages, "dist/greeting.js"),
      [
        "export const greet = (environ, startResponse) => {",
        '  startResponse("200 OK", [["Content-Type", "text/plain"]]);',
        "  return [new TextEncoder().encode(`Hello from ${environ.PATH_INFO}`)];",
        "};",
      ].join("\n"),
    );
    const gateway = await startGateway(["@acme/pages/greeting:greet"]);
    try {
      expect(await get(gateway.port, "/acme")).toEqual({ status: 200, body: "Hello from /acme" });
    } finally {
      await gateway.stop();
    }
  });

  it("type-check a TypeScript app against the installed contract types", () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          noEmit: true,
          // No @types/node here: the contract's types stand on their own.
          types: [],
        },
        include: ["*.ts"],
      }),
    );
    const typed = [
      'import type { Application } from "@foobar/tsgi";',
      "export const app: Application = (environ, startResponse) => {",
      "  const method: string = environ.REQUEST_METHOD;",
      '  startResponse("200 OK", [["Content-Type", "text/plain"]]);',
      "  return [new TextEncoder().encode(method)];",
      "};",
    ].join("\n");
    writeFileSync(join(project, "app.ts"), typed);
    expect(run(process.execPath, [TSC, "-p", "."])).toBe("");

    // The types are in force: an app that returns a string is refused.
    writeFileSync(
      join(project, "app.ts"),
      typed.replace("[new TextEncoder().encode(method)]", "method"),
    );
    let errors = "";
    try {
      run(process.execPath, [TSC, "-p", "."]);
    } catch (error) {
      errors = String((error as { stdout?: string }).stdout);
    }
    expect(errors).toMatch(/app\.ts\(\d+,\d+\): error TS2322: Type .* is not assignable/);
  });
});
