/**
 * Runs a markdown document as a reader would: its `sh` blocks are typed into a terminal, a
 * server command (the gateway, `npm start`, nginx, Gunicorn, `docker compose up`) keeps running
 * in a terminal of its own, and each `console` block's `$ command` is run and what it prints is
 * compared with the lines under it (tests/docs/normalise.ts says what may differ). A `console`
 * block without a `$` line is an excerpt of what the last command or a running server printed.
 *
 * The reader's fixed places are mapped to private ones, and mapped back in what is printed:
 * ports 8000, 8001, 9100 and 8443 to free ports, /tmp/tsgi to a fresh directory, the compose
 * project to a unique name; pids named in the docs to the real processes.
 *
 * The rule for writers: a `console` block is a promise (its commands run, in the document's
 * order from a fresh start, and print what is under them); any other sample is a `text` block,
 * introduced as an example: a state the document does not set up (a busy worker, an error from a
 * bad flag, a path on someone's machine). So a reference page, which sets nothing up, shows
 * `text` samples, and points to the walkthrough step where the command runs for real.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { accepts } from "../helpers/net.js";
import { isEllipsis, matchLines, refusal, shownLines, type Field } from "./normalise.js";

export const ROOT = new URL("../../", import.meta.url).pathname;

/** The ports the docs use: the app's, a second server's, the master's metrics listener, HTTPS. */
const DOC_PORTS = [8000, 8001, 9100, 8443] as const;
const DOC_WORKDIR = "/tmp/tsgi";
/** A file the docs keep in /tmp, mapped into this run's directory too. */
const DOC_PID_FILE = "/tmp/gateway.pid";

/** Commands the harness does not type, and why. */
const NOT_RUN: { pattern: RegExp; why: string }[] = [
  { pattern: /^npm ci\b/, why: "the suite runs on the tree npm ci installed" },
  { pattern: /^npm run build$/, why: "npm test builds before it runs the tests" },
  { pattern: /^npm test$/, why: "this is npm test" },
];

/** Commands that only look (the process list, the master's status): safe to run again. */
const LOOKS = [/^ps\b/, /^node gateway\/dist\/cli\.js status\b/];

/** A command that keeps running: the reader gives it a terminal of its own. */
const SERVER = [
  /^(?:\w+=\S+ )*node gateway\/dist\/cli\.js\b(?! status)/,
  /^(?:\w+=\S+ )*npm start$/,
  /^nginx -p\b/,
  /^(?:\w+=\S+ )*gunicorn\b/,
  /^docker compose up$/,
];

export interface Block {
  lang: string;
  lines: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

export interface Step {
  title: string;
  blocks: Block[];
}

/** The document's sections (## and ###) with their fenced blocks. */
export function parseSteps(markdown: string): Step[] {
  const steps: Step[] = [{ title: "(before the first heading)", blocks: [] }];
  const lines = markdown.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const heading = /^#{2,3} (.+)$/.exec(lines[index]!);
    if (heading !== null) {
      steps.push({ title: heading[1]!, blocks: [] });
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(lines[index]!);
    if (fence === null) continue;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length && !lines[index]!.startsWith("```"); index++)
      body.push(lines[index]!);
    steps.at(-1)!.blocks.push({ lang: fence[1]!, lines: body, line: start + 1 });
  }
  return steps.filter((step) => step.blocks.length > 0);
}

/** An `sh` block's commands: one per line, a here-document with its lines. */
export function shCommands(lines: string[]): string[] {
  const commands: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    let command = lines[index]!;
    if (command.trim() === "" || command.trimStart().startsWith("#")) continue;
    const heredoc = /<<-?\s*['"]?(\w+)['"]?/.exec(command)?.[1];
    if (heredoc !== undefined)
      while (index + 1 < lines.length) {
        command += `\n${lines[++index]!}`;
        if (lines[index]!.trim() === heredoc) break;
      }
    command = command.replace(/\s+#[^'"\n]*$/, "");
    // `npm ci && npm start`: two commands, the first one not run here, the second a server.
    if (heredoc === undefined && !/['"]/.test(command)) commands.push(...command.split(/\s+&&\s+/));
    else commands.push(command);
  }
  return commands;
}

/** A `console` block: each `$ command` with the lines shown under it. */
export function consoleCommands(lines: string[]): { command: string; output: string[] }[] {
  const commands: { command: string; output: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith("$ ")) commands.push({ command: line.slice(2), output: [] });
    else commands.at(-1)?.output.push(line);
  }
  return commands;
}

/** The tools a step may need that a bare machine (Node and npm only) does not have. */
export const TOOLS = ["docker", "nginx", "gunicorn", "python3", "curl", "ps"] as const;

/** The tools a step's commands need, by the first word of each. */
export function toolsOf(step: Step): Set<(typeof TOOLS)[number]> {
  const tools = new Set<(typeof TOOLS)[number]>();
  for (const block of step.blocks) {
    const commands =
      block.lang === "console"
        ? consoleCommands(block.lines).map((entry) => entry.command)
        : block.lang === "sh"
          ? shCommands(block.lines)
          : [];
    for (const command of commands)
      for (const tool of TOOLS)
        // `docker ps` is Docker's own command, not procps' ps.
        if (new RegExp(`(^|[\\s|(;&])(?<!docker )${tool}\\b`).test(command)) tools.add(tool);
  }
  return tools;
}

interface Terminal {
  command: string;
  port: number;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `port` can be bound on every address right now (Docker publishes on 0.0.0.0). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

/**
 * Answers on 127.0.0.1:`port` with the app's response. A proxy's 502/503/504 is "not yet", as
 * a reader reloads until the page comes: nginx may answer 502 in its first moments, before its
 * upstream's name has first resolved (`server gateway:8000 resolve` resolves after start).
 */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", timeout: 2000 }, (res) => {
      res.resume();
      resolve(![502, 503, 504].includes(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export class DocRun {
  private readonly ports = new Map<number, number>();
  private readonly pids = new Map<string, string>();
  private readonly terminals: Terminal[] = [];
  /** The reader's /tmp/tsgi, made by start() (a run whose steps are all skipped makes none). */
  private workdir = "";
  private readonly project = `foobar-docs-${process.pid}-${Date.now().toString(36)}`;
  private composeUsed = false;
  private lastOutput = "";

  async start(): Promise<void> {
    this.workdir = mkdtempSync(join(tmpdir(), "foobar-docs-"));
    for (const port of DOC_PORTS) this.ports.set(port, await this.freePortLike(port));
    // In a terminal curl draws no progress meter; into a pipe it would.
    writeFileSync(join(this.workdir, ".curlrc"), "no-progress-meter\n");
  }

  /**
   * A free port with as many digits as the docs' one, so byte counts that include it (a Host
   * header echoed in a body, a Content-Length) stay what the docs say.
   */
  private async freePortLike(port: number): Promise<number> {
    const digits = String(port).length;
    const low = 10 ** (digits - 1);
    for (let attempt = 0; attempt < 200; attempt++) {
      const candidate =
        Math.max(low, 2000) + Math.floor(Math.random() * (10 ** digits - Math.max(low, 2000)));
      if (
        [...this.ports.values()].includes(candidate) ||
        (DOC_PORTS as readonly number[]).includes(candidate)
      )
        continue;
      if (await bindable(candidate)) return candidate;
    }
    throw new Error(`no free ${digits}-digit port`);
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PORT: String(this.ports.get(8000)),
      FOOBAR_PORT: String(this.ports.get(8000)),
      FOOBAR_TLS_PORT: String(this.ports.get(8443)),
      COMPOSE_PROJECT_NAME: this.project,
      NO_COLOR: "1",
      CURL_HOME: this.workdir,
    };
  }

  /** A command from the docs, with the reader's fixed places replaced by this run's. */
  rewrite(command: string): string {
    let text = command
      .replaceAll(DOC_PID_FILE, join(this.workdir, "gateway.pid"))
      .replaceAll(DOC_WORKDIR, this.workdir);
    for (const [doc, real] of this.ports) {
      text = text.replace(
        new RegExp(`(127\\.0\\.0\\.1|localhost|0\\.0\\.0\\.0):${doc}\\b`, "g"),
        `$1:${real}`,
      );
      text = text.replace(new RegExp(`-p ${doc}:`, "g"), `-p ${real}:`);
    }
    if (/^(kill|ps)\b/.test(text))
      text = text.replace(/\b\d{2,}\b/g, (pid) => this.pids.get(pid) ?? pid);
    return text;
  }

  /** What a command printed, with this run's places mapped back to the docs'. */
  private unmap(output: string): string {
    let text = output
      .replaceAll(join(this.workdir, "gateway.pid"), DOC_PID_FILE)
      .replaceAll(this.workdir, DOC_WORKDIR);
    for (const [doc, real] of this.ports)
      text = text.replace(new RegExp(`\\b${real}\\b`, "g"), String(doc));
    return text;
  }

  private remember(fields: Field[]): void {
    for (const field of fields)
      if (field.rule === "pid" && !this.pids.has(field.expected))
        this.pids.set(field.expected, field.actual);
  }

  /** The docs' port a server listens on: its --bind (-b), else 8000 ($PORT, nginx's listen). */
  private serverPort(command: string): number {
    const bind = /(?:-b|--bind)[ =]\S*:(\d+)/.exec(command)?.[1];
    return bind === undefined ? 8000 : Number(bind);
  }

  private logs(): string {
    return this.terminals.map((terminal) => terminal.log).join("\n");
  }

  /** Runs a command to its end (bounded), both streams in the order they were written. */
  private run(command: string, timeoutMs = 300_000): { status: number | null; output: string } {
    if (/(^|\n)docker compose\b/.test(command)) this.composeUsed = true;
    // One shell for the whole document: what a command exports, the next one sees.
    const exports = join(this.workdir, ".exports");
    const script = `. ${exports} 2>/dev/null\n{ ${this.rewrite(command)}\n} 2>&1\nstatus=$?\nexport -p > ${exports}\nexit $status`;
    const result = spawnSync("bash", ["-c", script], {
      cwd: ROOT,
      env: this.env(),
      encoding: "utf8",
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status, output: this.unmap(result.stdout ?? "") };
  }

  /** Stops the server on `port`, as Ctrl-C in its terminal would. */
  private async interrupt(terminal: Terminal): Promise<void> {
    const index = this.terminals.indexOf(terminal);
    if (index >= 0) this.terminals.splice(index, 1);
    if (terminal.child.exitCode !== null || terminal.child.signalCode !== null) return;
    try {
      process.kill(-terminal.child.pid!, "SIGINT");
    } catch {
      return;
    }
    // Done when the whole process group is gone: a worker may outlive its master by a moment.
    const deadline = Date.now() + 30_000;
    while (groupAlive(terminal.child.pid!) && Date.now() < deadline) await sleep(100);
    if (groupAlive(terminal.child.pid!)) process.kill(-terminal.child.pid!, "SIGKILL");
  }

  /** Stops the server on the docs' `port` (Ctrl-C), then waits until the port is free again. */
  private async freeUp(port: number): Promise<void> {
    const running = this.terminals.filter((terminal) => terminal.port === port);
    for (const terminal of running) await this.interrupt(terminal);
    if (running.length === 0) return;
    const deadline = Date.now() + 60_000;
    while (!(await bindable(this.ports.get(port)!)) && Date.now() < deadline) await sleep(200);
  }

  /** Starts a server in a terminal of its own and waits until it answers. */
  private async startServer(command: string): Promise<Terminal> {
    const port = this.serverPort(command);
    await this.freeUp(port);
    if (/^docker compose\b/.test(command)) this.composeUsed = true;
    // exec: the server is the terminal's process (env: for a command that starts with VAR=…).
    const child = spawn("bash", ["-c", `exec env ${this.rewrite(command)}`], {
      cwd: ROOT,
      env: this.env(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const terminal: Terminal = {
      command,
      port,
      child,
      log: "",
      exited: new Promise((resolve) => child.once("exit", () => resolve())),
    };
    const append = (chunk: Buffer) => (terminal.log += this.unmap(chunk.toString()));
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    this.terminals.push(terminal);
    await this.waitUntilAnswering(port, /^docker/.test(command) ? 300_000 : 60_000, terminal);
    return terminal;
  }

  /**
   * Waits until `port` is served: a host process once it accepts connections (no request that
   * would show in its log), Docker once an HTTP answer comes back (its proxy accepts at once).
   */
  private async waitUntilAnswering(
    port: number,
    timeoutMs: number,
    terminal: Terminal | null,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const what = terminal?.command ?? `port ${port}`;
    const probe = terminal === null || /^docker/.test(terminal.command) ? answers : accepts;
    while (!(await probe(this.ports.get(port)!))) {
      if (terminal !== null && terminal.child.exitCode !== null)
        throw new Error(`\`${what}\` exited (${terminal.child.exitCode}):\n${terminal.log}`);
      if (Date.now() > deadline)
        throw new Error(`\`${what}\` never answered on ${port}:\n${terminal?.log ?? ""}`);
      await sleep(200);
    }
  }

  /** Polls `attempt` until it returns null (no complaint) or the time is up. */
  private async until(attempt: () => string | null, timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    let complaint = attempt();
    while (complaint !== null && Date.now() < deadline) {
      await sleep(200);
      complaint = attempt();
    }
    return complaint;
  }

  /** The end of each running server's log, to show beside a drift. */
  private context(): string {
    return this.terminals
      .map(
        (terminal) =>
          `\n--- log of \`${terminal.command}\` (last lines):\n${shownLines(terminal.log).slice(-12).join("\n")}`,
      )
      .join("");
  }

  private compare(expected: string[], actual: string, excerpt: boolean): string | null {
    const lines = shownLines(actual);
    const fields = matchLines(expected, lines, excerpt);
    if (fields !== null) {
      this.remember(fields);
      return null;
    }
    const refusals = expected
      .flatMap((line) => lines.map((got) => refusal(line, got)))
      .filter((why) => why !== null);
    return (
      `expected${excerpt ? " (somewhere in the output)" : ""}:\n${expected.join("\n")}\n` +
      `got:\n${lines.join("\n")}` +
      (refusals.length > 0 ? `\n(${refusals.join("; ")})` : "") +
      this.context()
    );
  }

  /** Runs one block; throws with the block's line and the difference when it drifted. */
  async runBlock(block: Block): Promise<void> {
    if (block.lang === "sh") {
      // Consecutive commands run as one script, as typed into one shell (an `export` holds).
      let script: string[] = [];
      let output = "";
      const flush = () => {
        if (script.length === 0) return;
        const result = this.run(["set -e", ...script].join("\n"));
        output += result.output;
        if (result.status !== 0)
          throw new Error(
            `line ${block.line}: \`${script.at(-1)}\` failed (${result.status}):\n${result.output}`,
          );
        script = [];
      };
      const published: number[] = [];
      for (const command of shCommands(block.lines)) {
        if (NOT_RUN.some((entry) => entry.pattern.test(command))) continue;
        if (SERVER.some((pattern) => pattern.test(command))) {
          flush();
          await this.startServer(command);
          continue;
        }
        // A container published on a port takes it over from the server there (Ctrl-C first).
        for (const doc of DOC_PORTS.filter((port) => command.includes(`-p ${port}:`))) {
          flush();
          await this.freeUp(doc);
          published.push(doc);
        }
        script.push(command);
      }
      flush();
      // A container started in the background (`docker run -d -p …`): wait, as a reader waits
      // for the page to load, until it answers.
      for (const doc of published) await this.waitUntilAnswering(doc, 120_000, null);
      this.lastOutput = output;
      return;
    }
    if (block.lang !== "console") return;
    const commands = consoleCommands(block.lines);
    if (commands.length === 0) {
      const expected = block.lines;
      const complaint = await this.until(
        () =>
          this.compare(expected, this.lastOutput, true) === null
            ? null
            : this.compare(expected, this.logs(), true),
        15_000,
      );
      if (complaint !== null) throw new Error(`line ${block.line}: output drifted\n${complaint}`);
      return;
    }
    for (const { command, output: expected } of commands) {
      const where = `line ${block.line}: \`${command}\``;
      if (SERVER.some((pattern) => pattern.test(command))) {
        const terminal = await this.startServer(command);
        // A server's sample is how its log begins: what it prints later (requests) may follow.
        const beginning = [...expected, "..."];
        const complaint = await this.until(
          () => this.compare(beginning, terminal.log, false),
          15_000,
        );
        if (complaint !== null) throw new Error(`${where} drifted\n${complaint}`);
        continue;
      }
      const before = this.terminals.map((terminal) => terminal.log.length);
      let result = this.run(command, 120_000);
      // A look that changes nothing (ps, gateway status) is taken again for a few seconds, as
      // a reader typing it a moment later would: a worker may not have named itself yet.
      if (LOOKS.some((pattern) => pattern.test(command)))
        await this.until(() => {
          if (this.compare(expected, result.output, false) === null) return null;
          result = this.run(command, 30_000);
          return "again";
        }, 10_000);
      this.lastOutput = result.output;
      if (result.output.trim() !== "" || expected.length === 0) {
        const complaint = this.compare(expected, result.output, false);
        if (complaint !== null) throw new Error(`${where} drifted\n${complaint}`);
        continue;
      }
      // Printed nothing itself (a signal): what it shows is what the servers logged meanwhile.
      const since = () =>
        this.terminals.map((terminal, index) => terminal.log.slice(before[index] ?? 0)).join("");
      const wanted = expected.filter((line) => !isEllipsis(line)).length;
      await this.until(() => (shownLines(since()).length >= wanted ? null : "waiting"), 15_000);
      await sleep(300); // a line more than the docs show would be drift too
      const complaint = this.compare(expected, since(), false);
      if (complaint !== null) throw new Error(`${where} drifted\n${complaint}`);
    }
  }

  /** Stops every server this run started and removes what it made. */
  async stop(): Promise<void> {
    for (const terminal of [...this.terminals].reverse()) await this.interrupt(terminal);
    if (this.composeUsed)
      spawnSync(
        "docker",
        ["compose", "-p", this.project, "down", "--remove-orphans", "--timeout", "5"],
        {
          cwd: ROOT,
          timeout: 120_000,
        },
      );
    // Containers the docs started with `docker run -p 8000:…` (published on this run's port).
    const leftover = spawnSync(
      "docker",
      ["ps", "-aq", "--filter", `publish=${this.ports.get(8000)}`],
      {
        encoding: "utf8",
      },
    );
    const ids = (leftover.stdout ?? "").split("\n").filter((id) => id !== "");
    if (ids.length > 0) spawnSync("docker", ["rm", "-f", ...ids], { timeout: 60_000 });
    if (this.workdir !== "") rmSync(this.workdir, { recursive: true, force: true });
  }
}
