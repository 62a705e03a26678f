/**
 * Docs stay true: every option `gateway --help` lists is documented, and the commands the README
 * shows use only what the project supports — npm scripts that exist, gateway options that
 * `--help` lists, files that are there. The option list is read from `--help` at test time, so
 * this test follows the CLI as it grows.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "gateway/dist/cli.js");
// The lead merges docs/README-draft.md into README.md; until then the draft is the front door.
// The draft is written as README.md will be: its links are relative to the repository's root.
const README = existsSync(join(ROOT, "README.md")) ? "README.md" : "docs/README-draft.md";
const REFERENCES = [README, "docs/gateway.md", "docs/using-foobar.md"].filter((file) =>
  existsSync(join(ROOT, file)),
);

function read(file: string): string {
  return readFileSync(join(ROOT, file), "utf8");
}

/** The option lines of `gateway --help`: indented, starting with a dash. */
function helpOptions(): { long: Set<string>; short: Set<string> } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
  expect(help.status, help.stderr).toBe(0);
  const long = new Set<string>();
  const short = new Set<string>();
  for (const line of help.stdout.split("\n")) {
    const column = /^\s+(-\S.*?)(?:\s{2,}|$)/.exec(line)?.[1];
    if (column === undefined) continue;
    for (const match of column.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) long.add(match[1]!);
    for (const match of column.matchAll(/(?<![\w-])-([a-zA-Z])\b/g)) short.add(match[1]!);
  }
  return { long, short };
}

/** Shell lines inside fenced code blocks marked sh/bash/shell/console (prompts stripped). */
function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell|console)\n([\s\S]*?)^```/gm)) {
    const lines = block[1]!.split("\n");
    const isConsole = /^\$ /m.test(block[1]!);
    let heredocEnd: string | undefined;
    for (const raw of lines) {
      // A here-document's lines are a file's content, not commands.
      if (heredocEnd !== undefined) {
        if (raw.trim() === heredocEnd) heredocEnd = undefined;
        continue;
      }
      heredocEnd = /<<-?\s*['"]?(\w+)['"]?/.exec(raw)?.[1];
      // In a console block only `$ ` lines are commands; the rest is what you will see.
      if (isConsole && !raw.startsWith("$ ")) continue;
      const line = raw
        .replace(/^\$ /, "")
        .replace(/\s+#.*$/, "")
        .trim();
      if (line === "" || line.startsWith("#")) continue;
      commands.push(...line.split(/\s*(?:&&|\|\||;|\|)\s*/).filter((part) => part !== ""));
    }
  }
  return commands;
}

const NPM_BUILTINS = new Set(["ci", "install", "i"]);
const NPM_SCRIPT_ALIASES: Record<string, string> = { test: "test", t: "test", start: "start" };

describe("gateway --help is documented", () => {
  const { long } = helpOptions();

  it("lists some options (the parser reads the help it is given)", () => {
    expect(long).toContain("bind");
    expect(long).toContain("help");
  });

  it.each([...long])("documents --%s", (option) => {
    const documented = REFERENCES.some((file) => read(file).includes(`--${option}`));
    expect(
      documented,
      `--${option} is not documented in ${REFERENCES.join(" or ")} (docs/gateway.md is the option reference)`,
    ).toBe(true);
  });
});

describe(`${README} shows the newcomer's commands`, () => {
  it("npm ci, npm start and npm test", () => {
    const commands = shellCommands(read(README));
    expect(commands).toContain("npm ci");
    expect(commands).toContain("npm start");
    expect(commands).toContain("npm test");
  });
});

describe.each([
  README,
  "docs/walkthrough.md",
  "docs/using-foobar.md",
  "tsgi/README.md",
  "gateway/README.md",
  "app/README.md",
])("%s's commands are ones the project supports", (file) => {
  const commands = shellCommands(read(file));
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  const { long, short } = helpOptions();

  it("has commands to check", () => {
    expect(commands.length).toBeGreaterThan(0);
  });

  it("runs only npm scripts that exist", () => {
    for (const command of commands.filter((c) => /^npm\s/.test(c))) {
      const [, verb = "", name = ""] = command.split(/\s+/);
      if (NPM_BUILTINS.has(verb)) continue;
      const script = verb === "run" || verb === "run-script" ? name : NPM_SCRIPT_ALIASES[verb];
      expect(script, `'${command}': unknown npm command`).toBeDefined();
      expect(Object.keys(scripts), `'${command}': no such script`).toContain(script);
    }
  });

  it("passes the gateway only options its --help lists", () => {
    const gatewayCalls = commands.filter((c) =>
      /^(?:npx\s+)?(?:gateway|node\s+gateway\/dist\/cli\.js)(?:\s|$)/.test(c),
    );
    for (const command of gatewayCalls) {
      for (const match of command.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g))
        expect(long, `'${command}': --${match[1]} is not in gateway --help`).toContain(match[1]);
      for (const match of command.matchAll(/(?:^|\s)-([a-zA-Z])(?=\s|$)/g))
        expect(short, `'${command}': -${match[1]} is not in gateway --help`).toContain(match[1]);
    }
  });

  it("builds and composes only with files that exist", () => {
    if (commands.some((c) => c.startsWith("docker build")))
      expect(existsSync(join(ROOT, "Dockerfile")), "docker build needs a Dockerfile").toBe(true);
    if (commands.some((c) => /^docker[ -]compose\b/.test(c)))
      expect(
        ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"].some((name) =>
          existsSync(join(ROOT, name)),
        ),
        "docker compose needs a compose file",
      ).toBe(true);
  });
});

/** Relative links in a markdown file whose targets are missing, resolved from `base`. */
function missingLinks(markdown: string, base: string): string[] {
  const targets = [...markdown.matchAll(/\]\((?!https?:|#|mailto:)([^)\s#]+)(?:#[^)]*)?\)/g)].map(
    (match) => decodeURIComponent(match[1]!),
  );
  return targets.filter((target) => !existsSync(resolve(base, target)));
}

describe("the docs link only to files that exist", () => {
  it(`${README} (links relative to the repository's root)`, () => {
    expect(missingLinks(read(README), ROOT)).toEqual([]);
  });

  it.each(["docs/walkthrough.md", "docs/using-foobar.md"])("%s", (file) => {
    expect(missingLinks(read(file), join(ROOT, "docs"))).toEqual([]);
  });
});

describe("shellCommands", () => {
  it("reads commands, not the output shown after them", () => {
    const markdown = [
      "```console",
      "$ curl -s localhost:8000   # hello",
      "Hello, World!",
      "$ npm ci && npm start",
      "```",
      "```sh",
      "# a comment",
      "cat > /tmp/app.mjs <<'EOF'",
      "npm run nothing-here",
      "EOF",
      "docker build -t foobar .",
      "```",
      "```",
      "not shell",
      "```",
    ].join("\n");
    expect(shellCommands(markdown)).toEqual([
      "curl -s localhost:8000",
      "npm ci",
      "npm start",
      "cat > /tmp/app.mjs <<'EOF'",
      "docker build -t foobar .",
    ]);
  });
});
