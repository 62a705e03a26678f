/**
 * The environ stays a fast V8 object, behind a proxy too. Every reader of the environ (the
 * app, middleware, the engine) pays for a slow one: a `delete` on it once turned it into a
 * dictionary-mode object for every request nginx forwarded, which cost the nginx tier ~7 % of
 * its throughput (docs/performance.md). V8 answers the question itself, through
 * `%HasFastProperties` in a child process started with --allow-natives-syntax.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = resolve("tests/fixtures/shape/environ-shape.mjs");

function environShape(headers: Record<string, string>): {
  fast: boolean;
  keys: number;
  remote: string;
} {
  const output = execFileSync(
    process.execPath,
    ["--allow-natives-syntax", SCRIPT, JSON.stringify(headers)],
    { encoding: "utf8", timeout: 20_000 },
  );
  return JSON.parse(output) as { fast: boolean; keys: number; remote: string };
}

describe("the environ's shape", () => {
  it("is a fast object for a plain request", () => {
    expect(environShape({})).toMatchObject({ fast: true, remote: "127.0.0.1" });
  });

  it("is a fast object when a trusted proxy names the client (REMOTE_PORT left out)", () => {
    const shape = environShape({
      "X-Forwarded-For": "203.0.113.7",
      "X-Forwarded-Proto": "https",
      "X-Forwarded-Host": "example.com",
    });
    expect(shape).toMatchObject({ fast: true, remote: "203.0.113.7" });
  });
});
