/**
 * Reads V8 CPU profiles (`node --cpu-prof`) taken under load and says where the time per request
 * goes: self time by category (Node's HTTP code, streams, the socket write, the garbage
 * collector, foobar's own code …), the time spent beneath the request handler, and the
 * functions that cost most. Pure functions, so tests/bench can check them on a made-up profile.
 */
import { horizontalBarChartSvg, markdownTable } from "./report.js";

/** The parts of a `.cpuprofile` file this module reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber?: number };
    children?: number[];
  }[];
  /** Microseconds, on the same monotonic clock as `process.hrtime` (divided by 1000). */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The categories, in the order they are shown. */
export const CATEGORIES = [
  "foobar: gateway/",
  "foobar: tsgi/ (response engine, rules)",
  "app (hello) / bench handler",
  "Node: HTTP (_http_*, internal/http)",
  "Node: streams",
  "Node: net, timers, events, other JS",
  "socket write (writev/writeBuffer)",
  "other native (V8 builtins, C++)",
  "garbage collector",
  "(program): V8/libuv outside JS",
] as const;
export type Category = (typeof CATEGORIES)[number];

/** The category of a frame, by its script and function name. */
export function categoryOf(functionName: string, url: string): Category | "idle" {
  if (functionName === "(idle)") return "idle";
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(program)" || functionName === "(root)")
    return "(program): V8/libuv outside JS";
  if (url.includes("/gateway/")) return "foobar: gateway/";
  if (url.includes("/tsgi/")) return "foobar: tsgi/ (response engine, rules)";
  if (url.includes("/app/") || url.includes("/bench/servers/"))
    return "app (hello) / bench handler";
  if (/^node:(_http|internal\/http|http)/.test(url)) return "Node: HTTP (_http_*, internal/http)";
  if (/^node:(internal\/streams|stream)/.test(url)) return "Node: streams";
  if (url.startsWith("node:")) return "Node: net, timers, events, other JS";
  if (
    /^(writev|writeBuffer|writeLatin1String|writeUtf8String|writeAsciiString)$/.test(functionName)
  )
    return "socket write (writev/writeBuffer)";
  return "other native (V8 builtins, C++)";
}

/** Where the time of one profile went, within a window, in µs per request. */
export interface ProfileSummary {
  requests: number;
  /** Busy (non-idle) CPU µs per request. */
  busy: number;
  idle: number;
  byCategory: Record<Category, number>;
  /** µs per request with a frame of `handlerPattern` anywhere on the stack. */
  underHandler: number;
  /** The costliest functions by self time: `name (script:line)` → µs per request. */
  topFunctions: [string, number][];
}

/** Window: [from, to] in the profile's microseconds. Several profiles (master + workers) add up. */
export function summarizeProfiles(
  profiles: CpuProfile[],
  window: { from: number; to: number },
  requests: number,
  handlerPattern: RegExp,
): ProfileSummary {
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const byFunction = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  let underHandler = 0;
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes)
      for (const child of node.children ?? []) parent.set(child, node.id);
    const handlerBelow = new Map<number, boolean>();
    const isUnderHandler = (id: number): boolean => {
      const known = handlerBelow.get(id);
      if (known !== undefined) return known;
      const node = nodes.get(id)!;
      const up = parent.get(id);
      const result =
        handlerPattern.test(node.callFrame.url) || (up !== undefined && isUnderHandler(up));
      handlerBelow.set(id, result);
      return result;
    };
    let time = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      time += profile.timeDeltas[i] ?? 0;
      // A sample stands for the time until the next one.
      const duration = profile.timeDeltas[i + 1] ?? 0;
      if (time < window.from || time > window.to) continue;
      const node = nodes.get(profile.samples[i]!)!;
      const { functionName, url, lineNumber } = node.callFrame;
      const category = categoryOf(functionName, url);
      if (category === "idle") {
        idle += duration;
        continue;
      }
      busy += duration;
      byCategory[category] += duration;
      if (isUnderHandler(node.id)) underHandler += duration;
      const script = url === "" ? "native" : url.replace(/^.*\/(dist|node_modules)\//, "");
      const name = `${functionName || "(anonymous)"} (${script}${url === "" ? "" : `:${(lineNumber ?? 0) + 1}`})`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + duration);
    }
  }
  const perRequest = (us: number) => (requests > 0 ? us / requests : NaN);
  for (const c of CATEGORIES) byCategory[c] = perRequest(byCategory[c]);
  return {
    requests,
    busy: perRequest(busy),
    idle: perRequest(idle),
    byCategory,
    underHandler: perRequest(underHandler),
    topFunctions: [...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => [name, perRequest(us)]),
  };
}

const us = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "–");

/** The side-by-side table: µs per request by category, and foobar's extra over node's. */
export function profileTable(node: ProfileSummary, foobar: ProfileSummary): string {
  const rows = CATEGORIES.map((c) => [
    c,
    us(node.byCategory[c]),
    us(foobar.byCategory[c]),
    us(foobar.byCategory[c] - node.byCategory[c]),
  ]);
  rows.push(["**busy CPU, total**", us(node.busy), us(foobar.busy), us(foobar.busy - node.busy)]);
  rows.push([
    "beneath the request handler (inclusive)",
    us(node.underHandler),
    us(foobar.underHandler),
    us(foobar.underHandler - node.underHandler),
  ]);
  return markdownTable(
    ["where (self time)", "node:http µs/req", "foobar 1w µs/req", "foobar extra µs/req"],
    rows,
    [false, true, true, true],
  );
}

/** A grouped horizontal bar chart: per category, node's bar and foobar's, in µs per request. */
export function profileChartSvg(
  node: ProfileSummary,
  foobar: ProfileSummary,
  title: string,
): string {
  const rows = CATEGORIES.map((c) => ({
    label: c,
    bars: [
      { value: node.byCategory[c], colour: NODE_COLOUR, text: us(node.byCategory[c]) },
      { value: foobar.byCategory[c], colour: FOOBAR_COLOUR, text: us(foobar.byCategory[c]) },
    ],
  }));
  return horizontalBarChartSvg(title, rows, {
    labelWidth: 300,
    barWidth: 380,
    textWidth: 110,
    barHeight: 12,
    top: 56,
    legend: [
      { colour: NODE_COLOUR, text: `node:http (busy ${us(node.busy)} µs/req)` },
      { colour: FOOBAR_COLOUR, text: `foobar 1w (busy ${us(foobar.busy)} µs/req)` },
    ],
  });
}

const NODE_COLOUR = "#868e96";
const FOOBAR_COLOUR = "#d9480f";
