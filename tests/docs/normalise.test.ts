/**
 * The doc runner's rules: what may differ between a sample and the real output (dates, pids,
 * ports, timings) and what may not (a byte count, a header, a line more or less), and that a
 * drifted sample fails with its line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchLine, matchLines } from "./normalise.js";
import { DocRun, parseSteps, shCommands } from "./runner.js";

describe("matchLine", () => {
  it("lets dates, pids and client ports differ", () => {
    expect(
      matchLine(
        "[2026-11-24 20:54:52 +0000] [21949] [INFO] Booting worker with pid: 21972",
        "[2026-12-06 18:35:44 +0000] [512] [INFO] Booting worker with pid: 530",
      ),
    ).toEqual([
      expect.objectContaining({ rule: "log time" }),
      { rule: "pid", expected: "21949", actual: "512" },
      { rule: "pid", expected: "21972", actual: "530" },
    ]);
    expect(
      matchLine("Date: Tue, 24 Nov 2026 20:43:01 GMT", "Date: Sun, 06 Dec 2026 18:35:28 GMT"),
    ).not.toBeNull();
    expect(matchLine('REMOTE_PORT = "33242"', 'REMOTE_PORT = "41002"')).not.toBeNull();
  });

  it("holds byte counts, headers and words to the sample", () => {
    expect(matchLine("< Content-Length: 656", "< Content-Length: 654")).toBeNull();
    expect(matchLine("Hello, World!", "Hello, world!")).toBeNull();
    expect(matchLine("count-bytes: 4155 bytes for /", "count-bytes: 4583 bytes for /")).toBeNull();
    expect(
      matchLine("count-bytes: 4583 bytes for /", "count-bytes: 4590 bytes for /"),
    ).not.toBeNull();
  });

  it("lets the status table's pids, uptimes, heartbeats and memory differ, not its counts", () => {
    const row = "21725 1 0 idle 0 2.6s 0.7s ago 55.2 MB -";
    expect(matchLine(row, "30112 1 0 idle 0 14.1s 0.0s ago 61.0 MB -")).not.toBeNull();
    expect(matchLine(row, "30112 1 0 idle 3 14.1s 0.0s ago 61.0 MB -")).toBeNull();
    expect(matchLine(row, "30112 1 1 idle 0 14.1s 0.0s ago 61.0 MB -")).toBeNull();
    const event = "18:34:45.750  spawned  21725  worker #1, generation 0";
    expect(matchLine(event, "19:51:04.754  spawned  30112  worker #1, generation 0")).toEqual([
      { rule: "event time", expected: "18:34:45.750", actual: "19:51:04.754" },
      { rule: "pid", expected: "21725", actual: "30112" },
    ]);
    expect(matchLine(event, "19:51:04.754  spawned  30112  worker #2, generation 0")).toBeNull();
  });

  it("lets a timing vary within its tolerance only", () => {
    expect(
      matchLine(
        "read 6000 bytes, waited 1998 ms for them",
        "read 6000 bytes, waited 2210 ms for them",
      ),
    ).not.toBeNull();
    expect(
      matchLine("read 6000 bytes, waited 0 ms for them", "read 6000 bytes, waited 3 ms for them"),
    ).not.toBeNull();
    expect(
      matchLine(
        "read 6000 bytes, waited 0 ms for them",
        "read 6000 bytes, waited 1998 ms for them",
      ),
    ).toBeNull();
  });
});

describe("matchLines", () => {
  it("matches every line in order, `...` standing for any lines", () => {
    expect(matchLines(["a", "...", "d"], ["a", "b", "c", "d"], false)).toEqual([]);
    expect(matchLines(["a", "d"], ["a", "b", "c", "d"], false)).toBeNull();
    expect(matchLines(["a", "b"], ["a", "b", "c"], false)).toBeNull();
  });

  it("finds an excerpt anywhere, and a compose excerpt among other services' lines", () => {
    expect(matchLines(["b", "c"], ["a", "b", "c", "d"], true)).toEqual([]);
    expect(
      matchLines(
        ["gateway-1 | one", "gateway-1 | two"],
        ["gateway-1  | one", "wsgi-1     | x", "gateway-1  | two"],
        true,
      ),
    ).toEqual([]);
  });
});

describe("a server's sample", () => {
  it("is how its log begins: later lines may follow, a missing or extra line between may not", () => {
    const sample = ["Starting", "Booting worker", "Listening at", "..."];
    expect(
      matchLines(sample, ["Starting", "Booting worker", "Listening at", "GET /"], false),
    ).toEqual([]);
    expect(matchLines(sample, ["Starting", "Listening at"], false)).toBeNull();
    expect(
      matchLines(sample, ["Starting", "Booting worker", "Booting worker", "Listening at"], false),
    ).toBeNull();
  });
});

describe("shCommands", () => {
  it("splits `a && b`, keeps a here-document whole", () => {
    expect(shCommands(["npm ci && npm start", "cat > x <<'EOF'", "a && b", "EOF"])).toEqual([
      "npm ci",
      "npm start",
      "cat > x <<'EOF'\na && b\nEOF",
    ]);
  });
});

describe("a drifted sample fails with its line", () => {
  const run = new DocRun();
  beforeAll(() => run.start());
  afterAll(() => run.stop());
  const [step] = parseSteps(
    ["## 1. Echo", "", "```console", "$ echo hello; echo world", "hello", "word", "```", ""].join(
      "\n",
    ),
  );

  it("is one step, named by its heading", () => {
    expect(step?.title).toBe("1. Echo");
  });

  it("throws naming the block's line, the command, and both outputs", async () => {
    await expect(run.runBlock(step!.blocks[0]!)).rejects.toThrow(
      /line 3: `echo hello; echo world` drifted\nexpected:\nhello\nword\ngot:\nhello\nworld/,
    );
  });

  it("passes when the sample is what the command prints", async () => {
    const [good] = parseSteps(["## 1", "```console", "$ echo hello", "hello", "```"].join("\n"));
    await expect(run.runBlock(good!.blocks[0]!)).resolves.toBeUndefined();
  });
});
