/**
 * Turns measurements into the answer: medians per contestant, the target ratios, the Markdown
 * table (printed and written to bench/results.md) and an SVG bar chart. Pure functions only, so
 * tests/bench can check them without starting a server.
 */
import { GENEROUS_POOL } from "./contestants.js";
import type { LoadResult } from "./wrk.js";

/** One contestant's measurements in one round. */
export interface RoundSample {
  /** Which round (1, 2, …) it was measured in. */
  round: number;
  load: LoadResult;
  /** VmRSS of all its processes, in KiB: just before the load, and at its end. */
  idleRssKiB: number;
  loadedRssKiB: number;
  /** VmRSS of each worker process when idle (the master excluded), in KiB. */
  idleWorkerRssKiB: number[];
  /** Server CPU time (user + system, all its processes) per request served, in µs. */
  cpuMicrosPerRequest: number;
}

export interface ContestantResult {
  id: string;
  label: string;
  workers: number;
  /** Why it did not run (a missing binary, a branch not landed yet), when it did not. */
  skipped?: string;
  samples: RoundSample[];
}

export interface Summary {
  id: string;
  label: string;
  workers: number;
  skipped?: string;
  rounds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  idleRssKiB: number;
  idleRssPerWorkerKiB: number;
  loadedRssKiB: number;
  cpuMicrosPerRequest: number;
  /** req/s of each round, in order: how much the machine's noise moved it. */
  rpsByRound: number[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(result: ContestantResult): Summary {
  const s = result.samples;
  return {
    id: result.id,
    label: result.label,
    workers: result.workers,
    skipped: result.skipped,
    rounds: s.length,
    rps: median(s.map((x) => x.load.requestsPerSecond)),
    p50: median(s.map((x) => x.load.p50)),
    p99: median(s.map((x) => x.load.p99)),
    errors: s.reduce((sum, x) => sum + x.load.errors, 0),
    idleRssKiB: median(s.map((x) => x.idleRssKiB)),
    idleRssPerWorkerKiB: median(s.map(idleRssPerWorker)),
    loadedRssKiB: Math.max(...s.map((x) => x.loadedRssKiB)),
    cpuMicrosPerRequest: median(s.map((x) => x.cpuMicrosPerRequest)),
    rpsByRound: s.map((x) => x.load.requestsPerSecond),
  };
}

/** One target of issue #6: `value` compared with `limit`, or why it could not be measured. */
export interface TargetCheck {
  name: string;
  value: number;
  comparison: ">=" | "<=";
  limit: number;
  unit: "x" | "ms";
  /** Set when a contestant it needs was skipped or failed. */
  unmeasured?: string;
}

export function targetMet(check: TargetCheck): boolean | undefined {
  if (check.unmeasured !== undefined || !Number.isFinite(check.value)) return undefined;
  return check.comparison === ">=" ? check.value >= check.limit : check.value <= check.limit;
}

/** The ids the targets refer to, for `workers` = N. */
export function contestantIds(workers: number) {
  return {
    node: "node-http",
    cluster: `node-cluster-${workers}`,
    fastify1: "fastify-1",
    fastifyN: `fastify-${workers}`,
    foobar1: "foobar-1",
    foobarN: `foobar-${workers}`,
    gunicornSync: `gunicorn-sync-${workers}`,
    nginxFoobar: `nginx-foobar-${workers}`,
    nginxFoobarPool: `nginx-foobar-pool-${workers}`,
    nginxCluster: `nginx-node-cluster-${workers}`,
    tsgiFloor: "tsgi-floor-1",
  };
}

type Metric = (sample: RoundSample) => number;
const requestsPerSecond: Metric = (s) => s.load.requestsPerSecond;
const p99: Metric = (s) => s.load.p99;
const idleRss: Metric = (s) => s.idleRssKiB;
const idleRssPerWorker: Metric = (s) =>
  s.idleWorkerRssKiB.reduce((sum, kib) => sum + kib, 0) / s.idleWorkerRssKiB.length;

/**
 * `a`'s metric over `b`'s, round by round, and the median of those ratios. Within one round the
 * two ran seconds apart, so a slow minute on a shared machine hits both sides of each ratio.
 */
export function pairedRatio(
  a: ContestantResult,
  b: ContestantResult,
  metricA: Metric,
  metricB: Metric = metricA,
): number {
  const ratios: number[] = [];
  for (const sample of a.samples) {
    const other = b.samples.find((s) => s.round === sample.round);
    if (other !== undefined) ratios.push(metricA(sample) / metricB(other));
  }
  return median(ratios);
}

/**
 * Contestant `a`'s metric over `b`'s by `pairedRatio`, looked up by id in `results`; when either
 * did not run, NaN and which one.
 */
function ratioOfIds(
  results: ContestantResult[],
  [a, b]: [string, string],
  metricA: Metric,
  metricB: Metric = metricA,
): { value: number; unmeasured?: string } {
  const ran = (id: string) => results.find((r) => r.id === id && r.samples.length > 0);
  const left = ran(a);
  if (left === undefined) return { value: NaN, unmeasured: `${a} did not run` };
  const right = ran(b);
  if (right === undefined) return { value: NaN, unmeasured: `${b} did not run` };
  return { value: pairedRatio(left, right, metricA, metricB) };
}

/** Ratio targets over `results`: `a`'s metric over `b`'s (`ratioOfIds`), held against `limit`. */
function ratioTargets(results: ContestantResult[]) {
  return (
    name: string,
    [a, b]: [string, string],
    comparison: ">=" | "<=",
    limit: number,
    metricA: Metric,
    metricB: Metric = metricA,
  ): TargetCheck => ({
    name,
    comparison,
    limit,
    unit: "x",
    ...ratioOfIds(results, [a, b], metricA, metricB),
  });
}

/** Computes the targets from the results (and the measured start-to-ready time). */
export function checkTargets(
  results: ContestantResult[],
  workers: number,
  startToReadyMs: number | undefined,
): TargetCheck[] {
  const ids = contestantIds(workers);
  const ratio = ratioTargets(results);
  const n = workers;
  const startToReady = {
    name: "foobar 2w start to ready",
    comparison: "<=",
    limit: 500,
    unit: "ms",
  } as const;
  return [
    ratio(
      `foobar ${n}w / node cluster ${n}w, req/s`,
      [ids.foobarN, ids.cluster],
      ">=",
      0.9,
      requestsPerSecond,
      requestsPerSecond,
    ),
    ratio(
      `foobar ${n}w / node cluster ${n}w, p99`,
      [ids.foobarN, ids.cluster],
      "<=",
      1.2,
      p99,
      p99,
    ),
    ratio(
      "foobar 1w / Fastify 1w, req/s",
      [ids.foobar1, ids.fastify1],
      ">=",
      1,
      requestsPerSecond,
      requestsPerSecond,
    ),
    ratio(
      `foobar ${n}w / Fastify ${n}w, req/s`,
      [ids.foobarN, ids.fastifyN],
      ">=",
      1,
      requestsPerSecond,
      requestsPerSecond,
    ),
    ratio(
      `foobar ${n}w / Gunicorn sync ${n}w, req/s`,
      [ids.foobarN, ids.gunicornSync],
      ">=",
      3,
      requestsPerSecond,
      requestsPerSecond,
    ),
    nginxTierCheck(results, workers),
    ratio(
      `foobar ${n}w idle RSS per worker / bare node:http process`,
      [ids.foobarN, ids.node],
      "<=",
      1.3,
      idleRssPerWorker,
      idleRss,
    ),
    startToReadyMs === undefined
      ? { ...startToReady, value: NaN, unmeasured: "not measured" }
      : { ...startToReady, value: startToReadyMs },
  ];
}

/**
 * Issue #11: the nginx tier (the project's nginx/foobar.conf, plain HTTP) costs foobar no more
 * than it costs a raw Node cluster behind the same nginx with a pool larger than the load.
 */
export function nginxTierCheck(results: ContestantResult[], workers: number): TargetCheck {
  const ids = contestantIds(workers);
  return ratioTargets(results)(
    `nginx → foobar ${workers}w / nginx → node cluster ${workers}w, req/s`,
    [ids.nginxFoobar, ids.nginxCluster],
    ">=",
    0.95,
    requestsPerSecond,
  );
}

/**
 * The hello targets of issue #14 (the second performance round): a single worker within 5 % of
 * raw node:http, ahead of Fastify by 5 %, and no worse than the Node cluster with N workers.
 */
export function checkSecondRoundTargets(
  results: ContestantResult[],
  workers: number,
): TargetCheck[] {
  const ids = contestantIds(workers);
  const n = workers;
  const ratio = ratioTargets(results);
  return [
    ratio(
      "foobar 1w / node:http 1 process, req/s",
      [ids.foobar1, ids.node],
      ">=",
      0.95,
      requestsPerSecond,
    ),
    ratio(
      "foobar 1w / Fastify 1w, req/s",
      [ids.foobar1, ids.fastify1],
      ">=",
      1.05,
      requestsPerSecond,
    ),
    ratio(
      `foobar ${n}w / Fastify ${n}w, req/s`,
      [ids.foobarN, ids.fastifyN],
      ">=",
      1.05,
      requestsPerSecond,
    ),
    ratio(
      `foobar ${n}w / node cluster ${n}w, req/s`,
      [ids.foobarN, ids.cluster],
      ">=",
      1,
      requestsPerSecond,
    ),
    ratio(`foobar ${n}w / node cluster ${n}w, p99`, [ids.foobarN, ids.cluster], "<=", 1, p99),
  ];
}

/** A ratio with no goal: it says where a target's distance comes from. */
export interface SplitRatio {
  name: string;
  value: number;
  isolates: string;
}

/**
 * The missed hello ratios, split in two: the contract against node:http and the gateway against
 * the contract; the nginx pool against a pool larger than the load, both in front of foobar.
 */
export function splitRatios(results: ContestantResult[], workers: number): SplitRatio[] {
  const ids = contestantIds(workers);
  const n = workers;
  const split = (name: string, a: string, b: string, isolates: string): SplitRatio => ({
    name,
    value: ratioOfIds(results, [a, b], requestsPerSecond).value,
    isolates,
  });
  return [
    split(
      "TSGI floor 1w / node:http 1 process",
      ids.tsgiFloor,
      ids.node,
      "the contract itself: an environ, start_response, the app's call, its headers",
    ),
    split(
      "foobar 1w / TSGI floor 1w",
      ids.foobar1,
      ids.tsgiFloor,
      "the gateway around it: screening, tsgi.input, the engine's checks, the worker",
    ),
    split(
      `nginx → foobar ${n}w / nginx (pool ${GENEROUS_POOL}) → foobar ${n}w`,
      ids.nginxFoobar,
      ids.nginxFoobarPool,
      "the shipped upstream pool against one larger than the load",
    ),
    split(
      `nginx (pool ${GENEROUS_POOL}) → foobar ${n}w / nginx (pool ${GENEROUS_POOL}) → node cluster ${n}w`,
      ids.nginxFoobarPool,
      ids.nginxCluster,
      "the backend behind the same nginx",
    ),
  ];
}

export function splitTable(splits: SplitRatio[]): string {
  const rows = splits.map((s) => [
    s.name,
    Number.isFinite(s.value) ? `${fixed(s.value, 2)}×` : "not measured",
    s.isolates,
  ]);
  return markdownTable(["ratio", "measured", "what it isolates"], rows, [false, true, false]);
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : "–";
const mib = (kib: number) => fixed(kib / 1024, 1);

/** A Markdown table; columns padded so it also reads well in a terminal. */
export function markdownTable(
  header: string[],
  rows: string[][],
  alignRight: boolean[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    "| " +
    cells
      .map((c, i) => (alignRight[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(" | ") +
    " |";
  const rule =
    "|" +
    widths.map((w, i) => (alignRight[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") +
    "|";
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** The contestants table; req/s is also given relative to raw node:http at equal workers. */
export function resultsTable(summaries: Summary[], workers: number): string {
  const ids = contestantIds(workers);
  const base = (w: number) => summaries.find((s) => s.id === (w > 1 ? ids.cluster : ids.node));
  const rows = summaries.map((s) => {
    if (s.skipped !== undefined)
      return [s.label, String(s.workers), "skipped", "", "", "", "", "", "", "", ""];
    const reference = base(s.workers);
    return [
      s.label,
      String(s.workers),
      fixed(s.rps, 0),
      reference !== undefined && reference.rounds > 0 ? fixed(s.rps / reference.rps, 2) : "–",
      fixed(s.p50, 2),
      fixed(s.p99, 2),
      String(s.errors),
      mib(s.idleRssKiB),
      mib(s.loadedRssKiB),
      fixed(s.cpuMicrosPerRequest, 1),
      s.rpsByRound.map((rps) => `${(rps / 1000).toFixed(1)}k`).join(" "),
    ];
  });
  const skipped = summaries
    .filter((s) => s.skipped !== undefined)
    .map((s) => `- skipped: ${s.label} — ${s.skipped}`);
  const table = markdownTable(
    [
      "contestant",
      "workers",
      "req/s (median)",
      "× node:http",
      "p50 ms",
      "p99 ms",
      "errors",
      "RSS idle MiB",
      "RSS loaded MiB",
      "CPU µs/req",
      "req/s by round",
    ],
    rows,
    [false, true, true, true, true, true, true, true, true, true, false],
  );
  return skipped.length === 0 ? table : `${table}\n\n${skipped.join("\n")}`;
}

export function targetsTable(checks: TargetCheck[]): string {
  const rows = checks.map((c) => {
    const met = targetMet(c);
    const value = c.unit === "ms" ? `${fixed(c.value, 0)} ms` : `${fixed(c.value, 2)}×`;
    const limit = c.unit === "ms" ? `${c.limit} ms` : `${c.limit}×`;
    const verdict =
      met === undefined ? `not measured (${c.unmeasured ?? "n/a"})` : met ? "met" : "MISSED";
    return [c.name, value, `${c.comparison === ">=" ? "≥" : "≤"} ${limit}`, verdict];
  });
  return markdownTable(["target", "measured", "goal", "verdict"], rows, [false, true, true, false]);
}

/** Text made safe inside SVG/XML elements and attributes. */
export const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** One row of a horizontal bar chart: a label and its bars, drawn one under the other. */
export interface BarRow {
  label: string;
  bars: { value: number; colour: string; text: string }[];
}

/** How a chart is laid out, in pixels; `legend` entries go in a line under the title. */
export interface BarLayout {
  labelWidth: number;
  barWidth: number;
  /** Room right of the longest bar for its text. */
  textWidth: number;
  barHeight: number;
  /** y of the first row. */
  top: number;
  legend?: { colour: string; text: string }[];
}

/**
 * The one bar-chart layout of the bench's reports (results.svg, the profile's chart): a title,
 * an optional legend, and per row a right-aligned label and bars scaled to the largest value.
 */
export function horizontalBarChartSvg(title: string, rows: BarRow[], layout: BarLayout): string {
  const { labelWidth, barWidth, textWidth, barHeight, top } = layout;
  const gap = 2;
  const barsPerRow = Math.max(1, ...rows.map((row) => row.bars.length));
  const rowHeight = barsPerRow * (barHeight + gap) + 6;
  const width = labelWidth + barWidth + textWidth;
  const height = top + rows.length * rowHeight + 16;
  const max = Math.max(Number.MIN_VALUE, ...rows.flatMap((row) => row.bars.map((b) => b.value)));
  const drawn = rows.map((row, i) => {
    const y = top + i * rowHeight + 3;
    const middle = y + (row.bars.length * (barHeight + gap) - gap) / 2;
    const bars = row.bars.map(({ value, colour, text }, k) => {
      const barY = y + k * (barHeight + gap);
      const w = Math.max(1, Math.round((value / max) * barWidth));
      return (
        `<rect x="${labelWidth}" y="${barY}" width="${w}" height="${barHeight}" fill="${colour}"/>` +
        `<text x="${labelWidth + w + 6}" y="${barY + barHeight / 2 + 4}" font-size="11">${escapeXml(text)}</text>`
      );
    });
    return (
      `<text x="${labelWidth - 8}" y="${middle + 4}" text-anchor="end">${escapeXml(row.label)}</text>` +
      bars.join("")
    );
  });
  const legend = (layout.legend ?? []).map(
    ({ colour, text }, k) =>
      `<rect x="${labelWidth + k * 200}" y="32" width="12" height="12" fill="${colour}"/>` +
      `<text x="${labelWidth + k * 200 + 16}" y="43">${escapeXml(text)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...legend,
    ...drawn,
    `</svg>`,
    "",
  ].join("\n");
}

/** The fetch bridge's contestants (issue #27), by id. */
export const FETCH_IDS = {
  honoNode: "hono-node",
  honoFoobar: "hono-foobar-1",
  honoFoobarEager: "hono-foobar-eager-1",
  honoListener: "hono-listener-foobar-1",
  helloToFetch: "hello-tofetch-hono-node",
  expressNode: "express-node",
  expressFoobar: "express-foobar-1",
} as const;

/**
 * Issue #27's targets: a fetch handler under foobar at its own server's speed and latency,
 * foobar's hello as a fetch handler at foobar's speed, and Express no slower through foobar.
 */
export function checkFetchTargets(results: ContestantResult[], workers: number): TargetCheck[] {
  const foobar1 = contestantIds(workers).foobar1;
  const { honoFoobar, honoNode, helloToFetch, expressFoobar, expressNode } = FETCH_IDS;
  const ratio = ratioTargets(results);
  return [
    ratio(
      "Hono via fromFetch, foobar 1w / Hono on @hono/node-server, req/s",
      [honoFoobar, honoNode],
      ">=",
      0.9,
      requestsPerSecond,
    ),
    ratio(
      "Hono via fromFetch, foobar 1w / Hono on @hono/node-server, p99",
      [honoFoobar, honoNode],
      "<=",
      1.2,
      p99,
    ),
    ratio(
      "foobar hello via toFetch on @hono/node-server / foobar 1w, req/s",
      [helloToFetch, foobar1],
      ">=",
      0.9,
      requestsPerSecond,
    ),
    ratio(
      "Express via fromExpress, foobar 1w / Express on node:http, req/s",
      [expressFoobar, expressNode],
      ">=",
      1,
      requestsPerSecond,
    ),
  ];
}

/** The ways fromFetch was measured against, each over the native server (no goal). */
export function fetchAlternativeRatios(results: ContestantResult[]): SplitRatio[] {
  const against = (a: string, isolates: string): SplitRatio => ({
    name: `${results.find((r) => r.id === a)?.label ?? a} / Hono on @hono/node-server`,
    value: ratioOfIds(results, [a, FETCH_IDS.honoNode], requestsPerSecond).value,
    isolates,
  });
  return [
    against(FETCH_IDS.honoFoobar, "the adopted way: lazy Request, light Response (the default)"),
    against(FETCH_IDS.honoFoobarEager, "a full undici Request and Response per call"),
    against(FETCH_IDS.honoListener, "@hono/node-server's listener over the Node-style stand-ins"),
  ];
}

/** A horizontal bar chart of median req/s, one bar per contestant that ran. */
export function barChartSvg(summaries: Summary[], title: string): string {
  const rows = summaries
    .filter((s) => s.skipped === undefined && s.rounds > 0)
    .map((s) => ({
      label: s.label,
      bars: [
        {
          value: s.rps,
          colour:
            s.id.startsWith("foobar") || s.id.startsWith("nginx-foobar") ? "#d9480f" : "#868e96",
          text: `${Math.round(s.rps)} · p99 ${fixed(s.p99, 1)} ms`,
        },
      ],
    }));
  return horizontalBarChartSvg(title, rows, {
    labelWidth: 260,
    barWidth: 420,
    textWidth: 170,
    barHeight: 18,
    top: 40,
  });
}
