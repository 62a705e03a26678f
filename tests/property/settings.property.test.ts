/**
 * Property: whatever value any setting gets, from any source, start-up's checks answer in
 * bounded time with either "serve" or one error line (plus at most a hint), an exit code of
 * 2, 3 or 4, and no stack trace — never exit 1 (an error nobody planned for), never a hang.
 *
 * In this process through prepare() (what the command line runs first), for every setting
 * from the command line, for the environment variables and for config-file values; then a few
 * real processes with --check-config, each killed if it has not exited after 20 s.
 * fast-check prints the seed and the shrunk counter-example of any failure; FC_SEED replays it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { prepare, type Outcome } from "../../gateway/startup.js";
import { GUNICORN_ONLY, SETTINGS } from "../../gateway/settings.js";

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
console.log(`fast-check seed: ${seed} (replay with FC_SEED=${seed})`);

const APP = resolve("tests/fixtures/apps/slow.js");
const CLI = resolve("gateway/dist/cli.js");
const scratch = mkdtempSync(join(tmpdir(), "gateway-settings-property-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Text a user, a script or a typo could put in a setting. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.constantFrom(
    "",
    " ",
    "-",
    "--",
    "-1",
    "0",
    "1",
    "1e309",
    "NaN",
    "Infinity",
    "0x10",
    "007",
    "0o777",
    "true",
    "unix:",
    "unix:/",
    "[::1]:0",
    "127.0.0.1:0",
    "*",
    "/",
    "/dev/null",
    "/nonexistent/x",
    "a:b:c",
    "\u0000",
    "10.0.0.0/8,::1",
  ),
);

async function bounded(promise: Promise<Outcome>, ms = 10_000): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The property itself: serve, or one line (+ hint), a planned exit code, no stack. */
function expectWellBehaved(outcome: Outcome): void {
  if ("serve" in outcome) return;
  const lines = outcome.stderr.split("\n").filter((line) => line.trim() !== "");
  expect(outcome.stderr).not.toMatch(/^\s+at /m);
  if (outcome.exitCode === 0) return; // --help, --version, --print-config
  expect([2, 3, 4], outcome.stderr).toContain(outcome.exitCode);
  expect(lines[0]).toMatch(/^gateway: error: \S/);
  expect(lines.length, outcome.stderr).toBeLessThanOrEqual(2);
  if (lines.length === 2) expect(lines[1]).toMatch(/^gateway: hint: /);
}

// `config` imports whatever path it is given (under vitest, through vite's module runner):
// it gets random values in the real-process part below instead.
const FLAGGED = SETTINGS.filter((spec) => spec.flag !== undefined && spec.name !== "config");
/** Settings whose random values make start-up resolve host names: fewer runs. */
const SLOW = new Set(["bind", "metrics_bind"]);

describe("random values never give a stack trace, an unplanned exit or a hang", () => {
  it.each(FLAGGED.map((spec) => [spec.flag!, spec] as const))(
    "--%s",
    async (flag, spec) => {
      await fc.assert(
        fc.asyncProperty(anyText, fc.boolean(), async (value, inline) => {
          const given = inline ? [`--${flag}=${value}`] : [`--${flag}`, value];
          const args =
            spec.name === "bind" ? [...given, APP] : ["-b", "127.0.0.1:0", ...given, APP];
          expectWellBehaved(await bounded(prepare(args, { GATEWAY_CMD_ARGS: "" })));
        }),
        { seed, numRuns: SLOW.has(spec.name) ? 10 : 40 },
      );
    },
    120_000,
  );

  it("the environment: $PORT, $WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS, $GATEWAY_CMD_ARGS", async () => {
    // $PORT's only valid random value is 0: a random real port would be bound for a moment.
    const port = fc.oneof(
      fc.string(),
      fc.constantFrom("0", "abc", "-1", "99999", "65536", " 0", "0x50", "1e3", "8080.5"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          PORT: port,
          WEB_CONCURRENCY: anyText,
          FORWARDED_ALLOW_IPS: anyText,
          GATEWAY_CMD_ARGS: fc.oneof(
            anyText,
            fc
              .array(
                fc.constantFrom(
                  "-w",
                  "-b",
                  "--timeout",
                  "--preload",
                  "-k",
                  "x",
                  "-1",
                  "'a b'",
                  '"',
                ),
              )
              .map((words) => words.join(" ")),
          ),
        }),
        async (env) => {
          // Never a config file by accident (-c from $GATEWAY_CMD_ARGS): see `config` above.
          if (/(^|\s)(-c|--config)\b/.test(env.GATEWAY_CMD_ARGS)) return;
          expectWellBehaved(await bounded(prepare([APP], env)));
        },
      ),
      { seed, numRuns: 60 },
    );
  }, 120_000);

  it("config file values, for every setting and for Gunicorn's names", async () => {
    const names = [
      ...SETTINGS.map((spec) => spec.name).filter((name) => name !== "config"),
      ...GUNICORN_ONLY.map((foreign) => foreign.name),
    ];
    let count = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.jsonValue(), async (name, value) => {
        count += 1;
        const file = join(scratch, `random-${count}.config.js`);
        writeFileSync(file, `export default ${JSON.stringify({ [name]: value })};\n`);
        const args = ["-c", file, ...(name === "bind" ? [] : ["-b", "127.0.0.1:0"]), APP];
        expectWellBehaved(await bounded(prepare(args, { GATEWAY_CMD_ARGS: "" })));
      }),
      { seed, numRuns: 150 },
    );
  }, 120_000);
});

describe("real processes (--check-config), each killed after 20 s", () => {
  it("exit 0, 2, 3 or 4, no stack frame, no hang", async () => {
    const flagged = SETTINGS.filter((spec) => spec.flag !== undefined);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...flagged), anyText, async (spec, value) => {
        if (value.includes("\u0000")) return; // not something a process can be given
        const args = ["--check-config", "-b", "127.0.0.1:0", `--${spec.flag}=${value}`, APP];
        const result = await new Promise<{ code: number | null; stderr: string; hung: boolean }>(
          (done) => {
            const child = spawn(process.execPath, [CLI, ...args], {
              env: { ...process.env, WEB_CONCURRENCY: "", GATEWAY_CMD_ARGS: "", PORT: "" },
              stdio: ["ignore", "ignore", "pipe"],
            });
            let stderr = "";
            let hung = false;
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const timer = setTimeout(() => {
              hung = true;
              child.kill("SIGKILL");
            }, 20_000);
            child.on("exit", (code) => {
              clearTimeout(timer);
              done({ code, stderr, hung });
            });
          },
        );
        expect(result.hung, `${args.join(" ")} hung`).toBe(false);
        expect([0, 2, 3, 4], `${args.join(" ")}: ${result.stderr}`).toContain(result.code);
        expect(result.stderr).not.toMatch(/^\s+at /m);
      }),
      { seed, numRuns: 8 },
    );
  }, 240_000);
});
