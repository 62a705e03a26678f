/**
 * The bench's sections beyond hello, each foobar against raw `node:http` doing the same job,
 * round after round (foobar, node, foobar, node … so a noisy minute weighs on both):
 *
 *   bodies       responses of 64 KiB, 1 MiB and 10 MiB — an array body, an async-iterable body,
 *                `tsgi.file_wrapper` over a file — against `res.end`, a piped stream, a piped
 *                file stream: MiB/s, and server CPU per GiB sent
 *   uploads      1 MiB and 10 MiB request bodies read through `tsgi.input` against `req`'s data
 *                events: MiB/s, and server CPU per GiB received
 *   concurrency  hello's p99 latency at 1, 10, 100 and 1,000 connections, foobar N workers
 *                against a Node cluster of N
 *   idle         RSS of one worker holding 10,000 idle keep-alive connections against one raw
 *                `node:http` process holding the same
 *   tls          the encrypted tier: the project's nginx config over TLS and HTTP/2 (h2load) in
 *                front of foobar N workers, against the same nginx in front of a Node cluster
 *                of N: req/s
 *
 * The servers are in bench/servers/ (bodies.ts says what they serve); the verdicts and tables
 * in sections-report.ts.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { loopbackCertificate } from "../nginx/loopback.js";
import { contestants, type Contestant } from "./contestants.js";
import { runH2load } from "./h2load.js";
import {
  freePort,
  measuredLoad,
  measuredRun,
  memoryOf,
  sleep,
  startServer,
  type Command,
  type Started,
} from "./processes.js";
import { TLS_TIER_LIMIT, type PairedMeasure, type RoundValue } from "./sections-report.js";
import {
  BODY_DIR_ENV,
  BODY_KINDS,
  BODY_SIZES,
  writeBodyFiles,
  type BodyKind,
  type BodySize,
} from "./servers/bodies.js";
import { postScript, type LoadResult } from "./wrk.js";

export const SECTION_NAMES = ["bodies", "uploads", "concurrency", "idle", "tls"] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

export interface SectionOptions {
  root: string;
  scratch: string;
  rounds: number;
  /** Seconds measured per run, and of warm-up before it. */
  duration: number;
  warmup: number;
  /** N, for the concurrency section's foobar N workers against a Node cluster of N. */
  workers: number;
  /** Idle connections to hold. */
  idleConnections: number;
  /** The hello load's connection count: the tls section's too, so both nginx tiers carry one load. */
  connections: number;
  /** taskset CPU lists: for wrk, and for one-process servers. */
  cpus: { load: string | undefined; single: string | undefined };
  progress(text: string): void;
}

const MiB = 1024 * 1024;
/** Connections for the body and upload runs: enough to keep one core busy with big bodies. */
export const BODY_CONNECTIONS = 10;
export const CONNECTION_COUNTS = [1, 10, 100, 1000] as const;

type Side = "foobar" | "node";
const SIDES: Side[] = ["foobar", "node"];

/** A measure per key, both sides empty, to fill round by round. */
function measures<K extends string | number>(
  keys: readonly K[],
  make: (key: K) => Omit<PairedMeasure, "foobar" | "node">,
): Map<K, PairedMeasure> {
  return new Map(keys.map((key) => [key, { ...make(key), foobar: [], node: [] }]));
}

/** Runs `each` with a started server per side per round; a side that fails is marked. */
async function sideBySide(
  options: SectionOptions,
  section: string,
  all: PairedMeasure[],
  start: (side: Side) => Promise<Started>,
  each: (side: Side, started: Started, round: number) => Promise<void>,
): Promise<void> {
  for (let round = 1; round <= options.rounds; round++)
    for (const side of SIDES) {
      options.progress(`[${section} ${round}/${options.rounds}] ${side}`);
      let started: Started | undefined;
      try {
        started = await start(side);
        await each(side, started, round);
      } catch (error) {
        const reason = `${side} failed: ${(error as Error).message.split("\n")[0]!.slice(0, 80)}`;
        process.stderr.write(`\n${section}: ${reason}\n`);
        for (const measure of all) measure.unmeasured ??= reason;
      } finally {
        await started?.running.stop();
      }
    }
}

const SIZE_LABEL: Record<BodySize, string> = { "64k": "64 KiB", "1m": "1 MiB", "10m": "10 MiB" };
const KIND_WAYS: Record<BodyKind, [string, string, string]> = {
  array: ["array body", "[bytes]", "res.end(bytes)"],
  iter: ["async-iterable body", "async generator", "Readable.from(gen).pipe(res)"],
  file: ["file", "tsgi.file_wrapper", "createReadStream().pipe(res)"],
};

/** How the body and upload sections measure and judge: MiB/s, at least 0.9× of node's. */
const MIB_PER_S = {
  unit: "MiB/s",
  extraUnit: "CPU ms/GiB",
  comparison: ">=",
  limit: 0.9,
} as const;

export async function runBodies(options: SectionOptions): Promise<PairedMeasure[]> {
  const keys = Object.keys(BODY_SIZES).flatMap((size) =>
    BODY_KINDS.map((kind) => `${kind}/${size}`),
  );
  const sizeOf = (key: string) => key.split("/")[1] as BodySize;
  const table = measures(keys, (key) => {
    const [what, foobarWay, nodeWay] = KIND_WAYS[key.split("/")[0] as BodyKind];
    return {
      name: `${SIZE_LABEL[sizeOf(key)]} response, ${what}`,
      foobarWay,
      nodeWay,
      ...MIB_PER_S,
    };
  });
  return bodyRounds(options, "bodies", table, (key) => ({
    path: `/${key}`,
    bytes: BODY_SIZES[sizeOf(key)],
  }));
}

export async function runUploads(options: SectionOptions): Promise<PairedMeasure[]> {
  const sizes = ["1m", "10m"] as const;
  const scripts = new Map(
    sizes.map((size) => {
      const file = join(options.scratch, `post-${size}.lua`);
      writeFileSync(file, postScript(BODY_SIZES[size]));
      return [size, file];
    }),
  );
  const table = measures(sizes, (size) => ({
    name: `${SIZE_LABEL[size]} upload`,
    foobarWay: "for await of tsgi.input",
    nodeWay: "req.on('data')",
    ...MIB_PER_S,
  }));
  return bodyRounds(options, "uploads", table, (size) => ({
    path: "/upload",
    bytes: BODY_SIZES[size],
    script: scripts.get(size)!,
  }));
}

/**
 * The body and upload sections' rounds: foobar -w 1 with bodies-app against raw node's
 * bodies-node, each measured per key on the route `request` names (with its wrk script, for a
 * POST), and the bytes each request moves turned into MiB/s.
 */
async function bodyRounds<K extends string>(
  options: SectionOptions,
  section: SectionName,
  table: Map<K, PairedMeasure>,
  request: (key: K) => { path: string; bytes: number; script?: string },
): Promise<PairedMeasure[]> {
  const dir = join(options.scratch, "bodies");
  writeBodyFiles(dir);
  const env = { [BODY_DIR_ENV]: dir };
  const cli = join(options.root, "gateway/dist/cli.js");
  const servers = join(options.root, "dist/bench/servers");
  const commands: Record<Side, (port: number) => Command[]> = {
    foobar: (port) => [
      {
        command: process.execPath,
        args: [cli, "-w", "1", "-b", `127.0.0.1:${port}`, join(servers, "bodies-app.js")],
        env,
      },
    ],
    node: (port) => [
      { command: process.execPath, args: [join(servers, "bodies-node.js"), String(port)], env },
    ],
  };
  await sideBySide(
    options,
    section,
    [...table.values()],
    (side) => startServer(commands[side], "/", options.cpus.single),
    async (side, started, round) => {
      for (const [key, measure] of table) {
        options.progress(`[${section} ${round}/${options.rounds}] ${side} ${key}`);
        const { path, bytes, script } = request(key);
        const url = `http://127.0.0.1:${started.port}${path}`;
        const { load, cpuMs } = await measuredLoad(
          started,
          { url, connections: BODY_CONNECTIONS, cpus: options.cpus.load, script },
          options,
        );
        measure[side].push(throughput(round, load, cpuMs, bytes));
      }
    },
  );
  return [...table.values()];
}

/** MiB/s from wrk's request rate, and server CPU ms per GiB moved. */
function throughput(round: number, load: LoadResult, cpuMs: number, bytes: number): RoundValue {
  const gib = (load.requests * bytes) / (1024 * MiB);
  return {
    round,
    value: (load.requestsPerSecond * bytes) / MiB,
    extra: gib > 0 ? cpuMs / gib : NaN,
    errors: load.errors,
  };
}

function byId(all: Contestant[], id: string): Contestant {
  const found = all.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no contestant ${id}`);
  return found;
}

export async function runConcurrency(options: SectionOptions): Promise<PairedMeasure[]> {
  const n = options.workers;
  const pair = contestants(n, { root: options.root });
  const chosen = { foobar: byId(pair, `foobar-${n}`), node: byId(pair, `node-cluster-${n}`) };
  const table = measures(CONNECTION_COUNTS, (count) => ({
    name: `hello at ${count} connection${count === 1 ? "" : "s"}, p99`,
    foobarWay: `foobar ${n}w`,
    nodeWay: `node cluster ${n}w`,
    unit: "p99 ms",
    extraUnit: "req/s",
    comparison: "<=",
    limit: 1.2,
  }));
  await sideBySide(
    options,
    "concurrency",
    [...table.values()],
    (side) => {
      const contestant = chosen[side];
      const scratch = join(options.scratch, contestant.id);
      // N workers use both cores, as in the hello table's multi-process rows: not pinned.
      return startServer(
        (port, extra) => contestant.commands(port, scratch, extra),
        contestant.path,
        undefined,
      );
    },
    async (side, started, round) => {
      for (const [count, measure] of table) {
        options.progress(`[concurrency ${round}/${options.rounds}] ${side} -c${count}`);
        const { load } = await measuredLoad(
          started,
          { url: started.url, connections: count, cpus: options.cpus.load },
          options,
        );
        measure[side].push({
          round,
          value: load.p99,
          extra: load.requestsPerSecond,
          errors: load.errors,
        });
      }
    },
  );
  return [...table.values()];
}

/** The soft limit on open files this process (and so its children) has. */
function openFileLimit(): number {
  try {
    const text = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
    return text === "unlimited" ? Infinity : Number(text);
  } catch {
    return Infinity; // cannot tell: try, and let a failure say why
  }
}

/** Starts the idle client and resolves with it once it holds its connections. */
async function holdIdle(
  root: string,
  port: number,
  count: number,
): Promise<{ ask(): Promise<{ open: number; failed: number }>; stop(): void }> {
  const child = spawn(
    process.execPath,
    [join(root, "dist/bench/idle-client.js"), String(port), String(count)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const nextReport = async (): Promise<{ open: number; failed: number }> => {
    const timeout = sleep(120_000).then(() => {
      throw new Error(`the idle client did not report within 120 s`);
    });
    const next = await Promise.race([iterator.next(), timeout]);
    if (next.done === true) throw new Error("the idle client exited");
    return JSON.parse(next.value) as { open: number; failed: number };
  };
  const first = await nextReport();
  if (first.open !== count)
    throw new Error(`held ${first.open} of ${count} connections (${first.failed} failed)`);
  return {
    ask: () => {
      child.stdin.write("\n");
      return nextReport();
    },
    stop: () => {
      child.kill("SIGKILL");
      lines.close();
    },
  };
}

export async function runIdle(options: SectionOptions): Promise<PairedMeasure[]> {
  const count = options.idleConnections;
  const measure: PairedMeasure = {
    name: `${count.toLocaleString("en")} idle keep-alive connections, RSS of the worker`,
    foobarWay: "foobar 1 worker",
    nodeWay: "one node:http process",
    unit: "RSS MiB",
    extraUnit: "KiB/connection",
    comparison: "<=",
    limit: 1.2,
    foobar: [],
    node: [],
  };
  const limit = openFileLimit();
  if (limit < count + 100) {
    measure.unmeasured = `ulimit -n is ${limit}: too few for ${count} connections`;
    return [measure];
  }
  const keepAlive = "600"; // seconds: long enough that none expires while we count
  const cli = join(options.root, "gateway/dist/cli.js");
  const hello = join(options.root, "app/dist/hello.js");
  const build = {
    foobar: (port: number): Command[] => [
      {
        command: process.execPath,
        args: [cli, "-w", "1", "--keep-alive", keepAlive, "-b", `127.0.0.1:${port}`, hello],
      },
    ],
    node: (port: number): Command[] => [
      {
        command: process.execPath,
        args: [join(options.root, "dist/bench/servers/node-http.js"), String(port)],
        env: { KEEP_ALIVE_S: keepAlive },
      },
    ],
  };
  const workerKiB = (started: Started) =>
    memoryOf(started.running.pids).workerKiB.reduce((sum, kib) => sum + kib, 0);
  await sideBySide(
    options,
    "idle",
    [measure],
    (side) => startServer(build[side], "/", options.cpus.single),
    async (side, started, round) => {
      await sleep(300); // start-up garbage settles
      const before = workerKiB(started);
      const client = await holdIdle(options.root, started.port, count);
      try {
        await sleep(1000);
        const holding = workerKiB(started);
        const still = await client.ask();
        if (still.open !== count)
          throw new Error(`only ${still.open} of ${count} connections stayed open`);
        measure[side].push({
          round,
          value: holding / 1024,
          extra: (holding - before) / count,
        });
      } finally {
        client.stop();
      }
    },
  );
  return [measure];
}

/**
 * h2load's streams per connection: one, so the tier carries the plain nginx tier's load (one
 * request in flight per connection) and the two differ only in TLS and HTTP/2 framing, and nginx
 * has no more requests in flight to the backend than the shipped pool holds.
 */
export const TLS_STREAMS = 1;

/**
 * The encrypted tier: the contestants of the plain nginx tier (`nginx-foobar-N`, the project's
 * config; `nginx-node-cluster-N`, its reference) with the config's HTTPS listener on, driven by
 * h2load over TLS and HTTP/2 on loopback, warm-up run then measured run as wrk's (each on new
 * connections: 50 handshakes are a few milliseconds of the measured seconds). A throw-away
 * certificate is made in the scratch directory. Unpinned, as the plain nginx tier; h2load on
 * the load CPU, as wrk.
 */
export async function runTls(options: SectionOptions): Promise<PairedMeasure[]> {
  const n = options.workers;
  const ids = { foobar: `nginx-foobar-${n}`, node: `nginx-node-cluster-${n}` };
  const labels = contestants(n, { root: options.root });
  const measure: PairedMeasure = {
    name: "hello over TLS and HTTP/2 through nginx, req/s",
    foobarWay: byId(labels, ids.foobar).label,
    nodeWay: byId(labels, ids.node).label,
    unit: "req/s",
    // Server CPU (nginx and the backend) per request: on a shared machine it moves much less than
    // req/s. (h2load's mean time per request says nothing more than req/s here: with a fixed
    // number of requests in flight it is that number over req/s; the runs' lines print it.)
    extraUnit: "CPU µs/req",
    comparison: ">=",
    limit: TLS_TIER_LIMIT,
    foobar: [],
    node: [],
  };
  const skipped = byId(labels, ids.foobar).skipReason ?? byId(labels, ids.node).skipReason;
  if (skipped !== undefined) {
    measure.unmeasured = skipped;
    return [measure];
  }
  const dir = join(options.scratch, "tls");
  mkdirSync(dir, { recursive: true });
  const certificate = loopbackCertificate(dir);
  let tlsPort = 0;
  await sideBySide(
    options,
    "tls",
    [measure],
    async (side) => {
      tlsPort = await freePort();
      const tls = { port: tlsPort, ...certificate };
      const contestant = byId(contestants(n, { root: options.root, tls }), ids[side]);
      const scratch = join(options.scratch, `${contestant.id}-tls`);
      return startServer(
        (port, extra) => contestant.commands(port, scratch, extra),
        contestant.path,
        undefined,
      );
    },
    async (side, started, round) => {
      const url = `https://127.0.0.1:${tlsPort}${new URL(started.url).pathname}`;
      const h2load = (seconds: number) =>
        runH2load({
          url,
          connections: options.connections,
          streams: TLS_STREAMS,
          seconds,
          cpus: options.cpus.load,
        });
      const { load, cpuMs } = await measuredRun(started, h2load, options);
      // Both sides meet the same nginx: what they negotiated names the row.
      const { protocol, cipher, applicationProtocol } = load.tls!;
      measure.name = `hello over ${protocol} (${cipher}) and ${applicationProtocol} through nginx, req/s`;
      measure[side].push({
        round,
        value: load.requestsPerSecond,
        extra: load.requests > 0 ? (cpuMs * 1000) / load.requests : NaN,
        errors: load.errors,
      });
      // Each run's figures, for the reader on a shared machine (the table keeps medians).
      options.progress(
        `[tls ${round}/${options.rounds}] ${side}: ${load.requestsPerSecond.toFixed(0)} req/s, ${load.errors} failed, mean ${load.meanMs.toFixed(2)} ms, max ${load.maxMs.toFixed(1)} ms, server CPU ${((cpuMs * 1000) / load.requests).toFixed(1)} µs/req`,
      );
    },
  );
  return [measure];
}

export async function runSection(
  name: SectionName,
  options: SectionOptions,
): Promise<PairedMeasure[]> {
  switch (name) {
    case "bodies":
      return runBodies(options);
    case "uploads":
      return runUploads(options);
    case "concurrency":
      return runConcurrency(options);
    case "idle":
      return runIdle(options);
    case "tls":
      return runTls(options);
  }
}
