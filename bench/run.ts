/**
 * `npm run bench [-- --workers 2 --duration 5 --rounds 3 --quick --only id,id --no-pin
 *                    --sections hello,bodies,uploads,concurrency,idle,tls --section-duration 3
 *                    --idle-connections 10000]`
 *
 * Starts each contestant on loopback, drives it with wrk from a separate process, round after
 * round (A B C … A B C …, so a noisy minute hurts everyone alike), and reports per contestant the
 * median req/s, p50/p99 latency, errors and RSS of all its processes. Then the sections beyond
 * hello (bench/sections.ts): bodies, uploads, latency by connection count, idle connections, and
 * the encrypted tier (nginx over TLS and HTTP/2, driven by h2load).
 * Writes bench/results.md and bench/results.svg and prints the same tables.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { contestants, type Contestant } from "./contestants.js";
import type { Running } from "./processes.js";
import { measuredLoad, memoryOf, sleep, startServer, type Started } from "./processes.js";
import {
  barChartSvg,
  checkFetchTargets,
  checkSecondRoundTargets,
  checkTargets,
  fetchAlternativeRatios,
  splitRatios,
  splitTable,
  median,
  nginxTierCheck,
  resultsTable,
  summarize,
  targetsTable,
  type ContestantResult,
} from "./report.js";
import {
  BODY_CONNECTIONS,
  runSection,
  SECTION_NAMES,
  TLS_STREAMS,
  type SectionName,
} from "./sections.js";
import {
  encryptedTierCheck,
  sectionTable,
  worstCheck,
  type PairedMeasure,
} from "./sections-report.js";

const root = resolve(fileURLToPath(import.meta.url), "../../..");

function fail(message: string): never {
  process.stderr.write(`bench: error: ${message}\n`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        workers: { type: "string", default: "2" },
        duration: { type: "string", default: "5" },
        rounds: { type: "string", default: "3" },
        connections: { type: "string", default: "50" },
        warmup: { type: "string", default: "1" },
        only: { type: "string" },
        quick: { type: "boolean", default: false },
        "no-pin": { type: "boolean", default: false },
        out: { type: "string", default: join(root, "bench/results.md") },
        sections: { type: "string", default: ["hello", ...SECTION_NAMES].join(",") },
        "section-duration": { type: "string", default: "3" },
        "idle-connections": { type: "string", default: "10000" },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const v = parsed.values;
  const sections = v.sections.split(",");
  const unknown = sections.filter(
    (s) => s !== "hello" && !SECTION_NAMES.includes(s as SectionName),
  );
  if (unknown.length > 0)
    fail(
      `--sections: no section ${unknown.join(", ")} (there are: hello, ${SECTION_NAMES.join(", ")})`,
    );
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!(value > 0)) fail(`--${name} must be a positive number, not '${text}'`);
    return value;
  };
  return {
    workers: Math.round(positive("workers", v.workers)),
    duration: v.quick ? 1 : Math.round(positive("duration", v.duration)),
    rounds: v.quick ? 1 : Math.round(positive("rounds", v.rounds)),
    connections: Math.round(positive("connections", v.connections)),
    warmup: v.quick ? 1 : Math.round(positive("warmup", v.warmup)), // wrk takes whole seconds
    only: v.only?.split(","),
    pin: !v["no-pin"] && cpus().length >= 2,
    out: v.out,
    hello: sections.includes("hello"),
    sections: SECTION_NAMES.filter((name) => sections.includes(name)),
    sectionDuration: v.quick ? 1 : Math.round(positive("section-duration", v["section-duration"])),
    idleConnections: v.quick
      ? 1000
      : Math.round(positive("idle-connections", v["idle-connections"])),
  };
}

/** CPU placement: wrk gets the last CPU; single-process servers the others; N workers all. */
function placement(pin: boolean) {
  const last = cpus().length - 1;
  return {
    load: pin ? String(last) : undefined,
    single: pin ? (last === 1 ? "0" : `0-${last - 1}`) : undefined,
    multi: undefined,
  };
}

function version(command: string, args: string[]): string {
  try {
    const result = spawnSync(command, args, { encoding: "utf8" });
    // nginx prints its version on stderr; wrk exits 1 after printing it.
    const first = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n")[0] ?? "";
    return first.replace(/\s*Copyright.*$/, "") || `${command}: not installed`;
  } catch {
    return `${command}: not installed`;
  }
}

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

function start(
  contestant: Contestant,
  cpuList: string | undefined,
  scratch: string,
): Promise<Started> {
  return startServer(
    (port, extraPort) => contestant.commands(port, join(scratch, contestant.id), extraPort),
    contestant.path,
    cpuList,
  );
}

async function main(): Promise<void> {
  const o = options();
  const missing = (command: string) => spawnSync(command, ["--version"]).error !== undefined;
  if (missing("wrk"))
    fail("wrk is not installed: the bench drives every contestant with it (apt-get install wrk)");
  if (o.sections.includes("tls") && missing("h2load"))
    fail(
      "h2load is not installed: the tls section drives nginx over TLS and HTTP/2 with it (apt-get install nghttp2-client)",
    );
  const where = placement(o.pin);
  const scratch = mkdtempSync(join(tmpdir(), "foobar-bench-"));
  const all = contestants(o.workers, { root });
  const chosen = o.only === undefined ? all : all.filter((c) => o.only!.includes(c.id));
  if (chosen.length === 0) fail(`--only matched none of: ${all.map((c) => c.id).join(", ")}`);
  const results = new Map<string, ContestantResult>(
    chosen.map((c) => [
      c.id,
      { id: c.id, label: c.label, workers: c.workers, skipped: c.skipReason, samples: [] },
    ]),
  );
  const runnable = chosen.filter((c) => c.skipReason === undefined);
  const cleanups: Running[] = [];
  const onSignal = () => {
    void Promise.all(cleanups.map((r) => r.stop())).then(() => {
      // The scratch folder holds the tls section's throwaway private key: never leave it.
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // The machine's 1-minute load average through the run: other people's work on a shared
  // machine moves req/s and latency (ratios much less), so the report says how busy it was.
  const loads = [loadavg()[0]!];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5000);

  for (let round = 1; o.hello && round <= o.rounds; round++) {
    for (const [index, contestant] of runnable.entries()) {
      const result = results.get(contestant.id)!;
      if (result.skipped !== undefined) continue;
      const step = `[round ${round}/${o.rounds} · ${index + 1}/${runnable.length}] ${contestant.label}`;
      progress(`${step}: starting`);
      const cpuList =
        contestant.workers > 1 || contestant.id.startsWith("nginx") ? where.multi : where.single;
      let started: Started | undefined;
      try {
        started = await start(contestant, cpuList, scratch);
        cleanups.push(started.running);
        await sleep(300); // let start-up garbage settle before reading idle memory
        const idle = memoryOf(started.running.pids);
        progress(`${step}: warm-up ${o.warmup} s, then measuring ${o.duration} s`);
        const { load, cpuMs } = await measuredLoad(
          started,
          { url: started.url, connections: o.connections, cpus: where.load },
          o,
        );
        const loaded = memoryOf(started.running.pids);
        result.samples.push({
          round,
          load,
          idleRssKiB: idle.totalKiB,
          loadedRssKiB: loaded.totalKiB,
          idleWorkerRssKiB: idle.workerKiB,
          cpuMicrosPerRequest: load.requests > 0 ? (cpuMs * 1000) / load.requests : NaN,
        });
      } catch (error) {
        result.skipped = `failed: ${(error as Error).message.split("\n")[0]!.slice(0, 80)}`;
        process.stderr.write(`\n${contestant.label} failed: ${(error as Error).message}\n`);
      } finally {
        await started?.running.stop();
      }
    }
  }

  // Start to ready: spawn to first good response, foobar with 2 workers, alternating with a
  // 2-worker node:http cluster (the floor: two Node start-ups in a row) so both see the same load.
  const readyTimes: Record<string, number[]> = {};
  const starters = contestants(2, { root }).filter(
    (c) => c.id === "foobar-2" || c.id === "node-cluster-2",
  );
  for (let i = 0; o.hello && i < Math.max(3, o.rounds); i++) {
    for (const contestant of starters) {
      progress(`[start to ready ${i + 1}] ${contestant.label}`);
      try {
        const started = await start(contestant, undefined, scratch);
        (readyTimes[contestant.id] ??= []).push(started.readyMs);
        await started.running.stop();
      } catch (error) {
        process.stderr.write(`\n${contestant.label} did not start: ${(error as Error).message}\n`);
      }
    }
  }

  const sectionResults = new Map<SectionName, PairedMeasure[]>();
  for (const name of o.sections)
    sectionResults.set(
      name,
      await runSection(name, {
        root,
        scratch,
        rounds: o.rounds,
        duration: o.sectionDuration,
        warmup: o.warmup,
        workers: o.workers,
        idleConnections: o.idleConnections,
        connections: o.connections,
        cpus: { load: where.load, single: where.single },
        progress,
      }),
    );
  clearInterval(sampler);
  loads.push(loadavg()[0]!);
  progress("");
  rmSync(scratch, { recursive: true, force: true });

  const summaries = [...results.values()].map(summarize);
  const foobarReady =
    readyTimes["foobar-2"] === undefined ? undefined : median(readyTimes["foobar-2"]);
  const clusterReady =
    readyTimes["node-cluster-2"] === undefined ? undefined : median(readyTimes["node-cluster-2"]);
  const checks = checkTargets([...results.values()], o.workers, foobarReady);
  const cpu = cpus();
  const nginxVersion = version("nginx", ["-v"]);
  const machine = [
    `- CPU: ${cpu.length} × ${cpu[0]?.model ?? "?"}; RAM ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}`,
    `- Node ${process.version}; ${nginxVersion}; ${version("gunicorn", ["--version"])}; ${version("wrk", ["--version"])}; ${version("h2load", ["--version"])}`,
    `- Load: wrk, 1 thread, ${o.connections} keep-alive connections, ${o.warmup} s warm-up then ${o.duration} s measured; ${o.rounds} interleaved round(s); medians across rounds`,
    o.pin
      ? `- Pinning (taskset): wrk on CPU ${where.load}; single-process servers on CPU ${where.single}; multi-process servers unpinned (they share CPU ${where.load} with wrk)`
      : "- No CPU pinning",
    `- Start to ready (spawn → first 200), median of ${readyTimes["foobar-2"]?.length ?? 0}: foobar 2w ${foobarReady?.toFixed(0) ?? "–"} ms; node:http cluster 2w ${clusterReady?.toFixed(0) ?? "–"} ms`,
    `- Machine load (1-minute load average, sampled every 5 s): min ${Math.min(...loads).toFixed(2)}, median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}`,
    `- Run at ${new Date().toISOString()}`,
  ].join("\n");
  const table = resultsTable(summaries, o.workers);
  const targets = targetsTable(checks);
  const section = (name: SectionName) => sectionResults.get(name) ?? [];
  const secondRound = targetsTable([
    ...checkSecondRoundTargets([...results.values()], o.workers),
    worstCheck(
      "responses of 64 KiB, 1 MiB, 10 MiB (array, async-iterable, file_wrapper) / node:http, MiB/s, worst",
      section("bodies"),
      { comparison: ">=", limit: 0.9 },
    ),
    worstCheck(
      "uploads of 1 and 10 MiB via tsgi.input / node:http req, MiB/s, worst",
      section("uploads"),
      { comparison: ">=", limit: 0.9 },
    ),
    worstCheck(
      `p99 at 1, 10, 100, 1000 connections, foobar ${o.workers}w / node cluster ${o.workers}w, worst`,
      section("concurrency"),
      { comparison: "<=", limit: 1.2 },
    ),
    worstCheck(
      `RSS per worker holding ${o.idleConnections} idle keep-alive connections / node:http`,
      section("idle"),
      { comparison: "<=", limit: 1.2 },
    ),
  ]);
  const splits = splitTable(splitRatios([...results.values()], o.workers));
  const fetchTargets = targetsTable(checkFetchTargets([...results.values()], o.workers));
  const encryptedTargets = targetsTable([
    nginxTierCheck([...results.values()], o.workers),
    encryptedTierCheck(section("tls"), o.workers),
  ]);
  const fetchAlternatives = splitTable(fetchAlternativeRatios([...results.values()]));
  const sectionTitles: Record<SectionName, string> = {
    bodies: `Response bodies (1 worker, pinned; wrk ${BODY_CONNECTIONS} connections; ${o.sectionDuration} s per run)`,
    uploads: `Uploads (1 worker, pinned; wrk ${BODY_CONNECTIONS} connections posting the body; ${o.sectionDuration} s per run)`,
    concurrency: `Latency by connection count (foobar ${o.workers}w / node cluster ${o.workers}w, unpinned; ${o.sectionDuration} s per run)`,
    idle: `Idle keep-alive connections (foobar -w 1 --keep-alive 600 / node:http, keepAliveTimeout 600 s)`,
    tls: `The encrypted tier (${nginxVersion.replace(/^nginx version: /, "")}, nginx/foobar.conf's HTTPS listener; h2load, ${o.connections} connections × ${TLS_STREAMS} stream, ${o.warmup} s warm-up then ${o.sectionDuration} s per run; server CPU per request beside)`,
  };
  const sectionsMarkdown = [...sectionResults].flatMap(([name, measures]) => [
    `### ${sectionTitles[name]}`,
    "",
    sectionTable(measures),
    "",
  ]);
  const svgPath = o.out.replace(/\.md$/, "") + ".svg";
  // Without the hello section there is nothing to chart: the last chart stays.
  if (o.hello)
    writeFileSync(
      svgPath,
      barChartSvg(
        summaries,
        `Hello, World! req/s — ${o.connections} connections, ${o.workers} workers`,
      ),
    );
  const markdown = [
    "# Benchmark results",
    "",
    "Written by `npm run bench`; see docs/performance.md for how to read it.",
    "",
    machine,
    "",
    table,
    "",
    "## Targets (issue #6)",
    "",
    "Each ratio is the median of per-round ratios: within a round the two contestants ran",
    "seconds apart, so a noisy moment on the machine weighs on both sides of the ratio.",
    "",
    targets,
    "",
    "## Targets (issue #14)",
    "",
    "The hello ratios as above; each section's row is its worst measure (tables below).",
    "",
    secondRound,
    "",
    "Where the missed hello ratios lose, split by two reference contestants (no goal):",
    "",
    splits,
    "",
    "## Targets (issue #27): the fetch bridge",
    "",
    fetchTargets,
    "",
    "The ways of serving a fetch handler that were measured, each against its own server:",
    "",
    fetchAlternatives,
    "",
    "## Targets (issue #24): the encrypted tier",
    "",
    "nginx with the project's config in front of both sides, plain HTTP (wrk, the hello table)",
    "and over TLS and HTTP/2 (h2load, the tls section below).",
    "",
    encryptedTargets,
    "",
    `![req/s per contestant](${svgPath.split("/").pop()})`,
    "",
    ...(sectionsMarkdown.length > 0 ? ["## Sections", "", ...sectionsMarkdown] : []),
  ].join("\n");
  writeFileSync(o.out, markdown);
  process.stdout.write(
    `${machine}\n\n${table}\n\n${targets}\n\n${secondRound}\n\n${splits}\n\n${fetchTargets}\n\n${fetchAlternatives}\n\n${encryptedTargets}\n\n${sectionsMarkdown.join("\n")}\nwrote ${o.hello ? `${o.out} and ${svgPath}` : o.out}\n`,
  );
}

await main();
