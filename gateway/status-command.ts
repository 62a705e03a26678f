/**
 * `gateway status`: what a running master's workers are doing, as a table (once, or redrawn
 * every few seconds like `top`), read from the stats on its metrics listener (stats-page.ts).
 *
 *   gateway status --pid /run/gateway.pid      the master of this pidfile (or a pid)
 *   gateway status --metrics 127.0.0.1:9100    the master whose --metrics-bind this is
 *   … --watch [SECONDS]                        redraw until Ctrl-C
 *   … --json                                   the document itself, for scripts
 *
 * With --pid the address comes from the file the master writes beside its scoreboards
 * (gateway-PID.metrics in --worker-tmp-dir's default directory); a master started with another
 * --worker-tmp-dir keeps it there, so name the address with --metrics instead.
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { parseArgs } from "node:util";
import { parseAddress, type Address } from "./addresses.js";
import { isRunning } from "./pidfile.js";
import { defaultSettings } from "./settings.js";
import { addressFilePath } from "./stats-page.js";
import type { StatsDocument, WorkerStats } from "./worker-stats.js";

/** `gateway status`'s usage; `gateway --help` shows it too. */
export const STATUS_USAGE = `usage: gateway status (--pid PIDFILE|PID | --metrics ADDRESS) [options]
What each worker of a running master is doing (the master needs --metrics-bind):
  --pid PIDFILE|PID                  The master's pidfile (gateway --pid) or its process id.
  --metrics ADDRESS                  The master's --metrics-bind address (HOST:PORT or unix:PATH).
  --watch [SECONDS]                  Redraw every SECONDS (default 2) until Ctrl-C.
  --json                             Print the stats document (docs/gateway.md) instead.
  --events N                         How many recent arbiter events to show (default 8).
`;

class UsageError extends Error {}

interface StatusOptions {
  address: ReachableAddress;
  watch: number | null;
  json: boolean;
  events: number;
}

function positive(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new UsageError(`${flag}: '${text}' is not a positive number`);
  return value;
}

/** The pid named by `--pid`: a number, or a pidfile holding one. */
function masterPid(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  let content: string;
  try {
    content = readFileSync(text, "utf8").trim();
  } catch (error) {
    throw new UsageError(`--pid: cannot read ${text}: ${(error as NodeJS.ErrnoException).code}`);
  }
  if (!/^\d+$/.test(content)) throw new UsageError(`--pid: ${text} does not hold a process id`);
  return Number(content);
}

/** The metrics address a master wrote beside its scoreboards (stats-page.ts writeAddressFile). */
function addressOfMaster(pid: number): string {
  // A master killed with SIGKILL leaves its file behind, and its pid may be reused.
  if (!isRunning(pid)) throw new UsageError(`no process ${pid} is running`);
  const path = addressFilePath(defaultSettings().worker_tmp_dir, pid);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  throw new UsageError(
    `no stats address for pid ${pid} (is it a gateway master started with --metrics-bind? ` +
      `looked for ${path}); pass --metrics ADDRESS`,
  );
}

/** An address another process can connect to (a descriptor number means nothing outside). */
type ReachableAddress = Exclude<Address, { fd: number }>;

function statsAddress(text: string): ReachableAddress {
  const address = parseAddress(text.replace(/^http:\/\//, "").replace(/\/.*$/, ""));
  if ("fd" in address)
    throw new Error(
      `${text}: a descriptor names a socket only inside its process; give its address`,
    );
  // A master listening on every interface is reached on loopback from here.
  if ("host" in address && (address.host === "0.0.0.0" || address.host === "::"))
    return { ...address, host: address.host === "::" ? "::1" : "127.0.0.1" };
  return address;
}

export function parseStatusArgs(argv: string[]): StatusOptions {
  let values;
  try {
    ({ values } = parseArgs({
      // --watch takes an optional number: give it the default when none follows.
      args: argv.map((arg, index) =>
        arg === "--watch" && !/^\d+(\.\d+)?$/.test(argv[index + 1] ?? "") ? "--watch=2" : arg,
      ),
      options: {
        pid: { type: "string" },
        metrics: { type: "string" },
        watch: { type: "string" },
        json: { type: "boolean", default: false },
        events: { type: "string", default: "8" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if ((values.pid === undefined) === (values.metrics === undefined))
    throw new UsageError("name the master with either --pid or --metrics");
  const where = values.metrics ?? addressOfMaster(masterPid(values.pid!));
  let address: ReachableAddress;
  try {
    address = statsAddress(where);
  } catch (error) {
    throw new UsageError(`--metrics: ${(error as Error).message}`);
  }
  return {
    address,
    watch: values.watch === undefined ? null : positive(values.watch, "--watch"),
    json: values.json,
    events: Math.floor(positive(values.events, "--events")),
  };
}

/** GET /stats from the master's metrics listener. */
export function fetchStats(address: ReachableAddress): Promise<StatsDocument> {
  const target =
    "path" in address ? { socketPath: address.path } : { host: address.host, port: address.port };
  return new Promise((resolve, reject) => {
    const outgoing = request({ ...target, path: "/stats", timeout: 5000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        if (response.statusCode !== 200)
          return reject(
            new Error(
              `/stats answered ${response.statusCode}: is this a gateway's --metrics-bind?`,
            ),
          );
        try {
          resolve(JSON.parse(body) as StatsDocument);
        } catch {
          reject(new Error("/stats did not answer JSON"));
        }
      });
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 5 s")));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

const megabytes = (bytes: number | null) =>
  bytes === null ? "?" : `${(bytes / 1048576).toFixed(1)} MB`;

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.floor(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}

function requestOf(worker: WorkerStats): string {
  const { request } = worker;
  if (request === null) return "-";
  const more = worker.in_flight > 1 ? ` +${worker.in_flight - 1}` : "";
  return `${request.method} ${request.path} (${duration(request.for_s)})${more}`;
}

/** Columns padded to their widest cell; the last one is left ragged. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join("  "),
    )
    .join("\n");
}

/** The table `gateway status` prints. */
export function renderStatus(stats: StatsDocument, events = 8): string {
  const { master } = stats;
  const head =
    `master ${master.pid} [${master.name}]  generation ${master.generation}  ` +
    `workers ${stats.workers.length} (wanted ${master.workers_wanted})  up ${duration(master.uptime_s)}  ` +
    `RSS ${megabytes(master.rss_bytes)}`;
  const workers = table([
    ["PID", "AGE", "GEN", "STATE", "REQUESTS", "UP", "HEARTBEAT", "RSS", "REQUEST"],
    ...stats.workers.map((worker) => [
      String(worker.pid),
      String(worker.age),
      String(worker.generation),
      worker.reason === null ? worker.state : `${worker.state} (${worker.reason})`,
      worker.max_requests > 0
        ? `${worker.requests}/${worker.max_requests}`
        : String(worker.requests),
      duration(worker.uptime_s),
      `${duration(worker.heartbeat_age_s)} ago`,
      megabytes(worker.rss_bytes),
      requestOf(worker),
    ]),
  ]);
  const recent = stats.events.slice(-events);
  const log =
    recent.length === 0
      ? ""
      : "\nrecent events:\n" +
        table(
          recent.map((event) => [
            event.time.slice(11, 23),
            event.kind,
            event.pid === null ? "master" : String(event.pid),
            event.reason,
          ]),
        ) +
        "\n";
  return `${head}\n\n${workers}\n${log}`;
}

/** Runs `gateway status ARGS`; returns the exit code (2: usage, 1: no answer from the master). */
export async function statusCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  let options: StatusOptions;
  try {
    options = parseStatusArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gateway status: ${error.message} (see gateway status --help)\n`);
    return 2;
  }
  const show = async (): Promise<boolean> => {
    try {
      const stats = await fetchStats(options.address);
      const text = options.json
        ? JSON.stringify(stats, null, 2) + "\n"
        : renderStatus(stats, options.events);
      // Redrawing: home the cursor and clear the screen first, as `top` does (on a terminal only).
      const clear = options.watch !== null && process.stdout.isTTY ? "\x1b[H\x1b[2J" : "";
      process.stdout.write(clear + text);
      return true;
    } catch (error) {
      process.stderr.write(
        `gateway status: cannot read the master's stats: ${(error as Error).message}\n`,
      );
      return false;
    }
  };
  if (options.watch === null) return (await show()) ? 0 : 1;
  for (;;) {
    if (!(await show())) return 1;
    await new Promise((resolve) => setTimeout(resolve, options.watch! * 1000));
  }
}
