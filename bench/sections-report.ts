/**
 * The bench's sections beyond hello — response bodies, uploads, latency by connection count,
 * idle connections, the encrypted tier — each a list of paired measures: foobar's way and raw
 * `node:http`'s way of the same job (behind the same nginx, for the encrypted tier), measured in
 * the same rounds. Pure functions (ratios, verdicts, tables), so
 * tests/bench can check them without starting a server.
 */
import { markdownTable, median, type TargetCheck, targetMet } from "./report.js";

/** One side's value in one round; a second figure (per `extraUnit`) if measured; its errors. */
export interface RoundValue {
  round: number;
  value: number;
  extra?: number;
  /** Failed requests (socket errors, non-2xx) in the run that gave `value`. */
  errors?: number;
}

/** foobar against raw node:http on one job. */
export interface PairedMeasure {
  /** The row's name, e.g. `1 MiB, array body`. */
  name: string;
  /** What each side does, e.g. `[bytes]` and `res.end(bytes)`. */
  foobarWay: string;
  nodeWay: string;
  /** The value's unit, e.g. `MB/s`, `p99 ms`, `RSS MiB`. */
  unit: string;
  /** What `extra` is, e.g. `CPU ms/GiB` or `KiB/connection`, when it was measured. */
  extraUnit?: string;
  /** foobar / node must be `>=` or `<=` `limit`. */
  comparison: ">=" | "<=";
  limit: number;
  foobar: RoundValue[];
  node: RoundValue[];
  /** Why it was not measured, when it was not. */
  unmeasured?: string;
}

/** The median of per-round foobar/node ratios (rounds measured on one side only are left out). */
export function measureRatio(measure: PairedMeasure, pick = (v: RoundValue) => v.value): number {
  const ratios: number[] = [];
  for (const mine of measure.foobar) {
    const theirs = measure.node.find((v) => v.round === mine.round);
    if (theirs !== undefined) ratios.push(pick(mine) / pick(theirs));
  }
  return median(ratios);
}

const errorsOf = (side: RoundValue[]) => side.reduce((sum, v) => sum + (v.errors ?? 0), 0);

/**
 * The measure as a target check: its ratio against its limit. Failed requests on foobar's side
 * miss the target whatever the ratio says; on node's side they leave it unmeasured.
 */
export function measureCheck(measure: PairedMeasure): TargetCheck {
  const check: TargetCheck = {
    name: measure.name,
    value: NaN,
    comparison: measure.comparison,
    limit: measure.limit,
    unit: "x",
  };
  if (measure.unmeasured !== undefined) return { ...check, unmeasured: measure.unmeasured };
  const foobarErrors = errorsOf(measure.foobar);
  if (foobarErrors > 0)
    return {
      ...check,
      name: `${measure.name} (foobar: ${foobarErrors} failed requests)`,
      value: measure.comparison === ">=" ? 0 : Infinity,
    };
  const nodeErrors = errorsOf(measure.node);
  if (nodeErrors > 0) return { ...check, unmeasured: `node:http: ${nodeErrors} failed requests` };
  return { ...check, value: measureRatio(measure) };
}

/**
 * One target over several measures (e.g. "≥ 0.9× for each body"): the worst ratio decides.
 * Unmeasured if any of them is, or if there are none (the section did not run).
 */
export function worstCheck(
  name: string,
  measures: PairedMeasure[],
  goal: { comparison: ">=" | "<="; limit: number },
): TargetCheck {
  const checks = measures.map(measureCheck);
  const { comparison, limit } = goal;
  const missing = checks.find((c) => c.unmeasured !== undefined || !Number.isFinite(c.value));
  if (checks.length === 0 || missing !== undefined)
    return {
      name,
      value: NaN,
      comparison,
      limit,
      unit: "x",
      unmeasured: missing?.unmeasured ?? "section not run",
    };
  const values = checks.map((c) => c.value);
  const value = comparison === ">=" ? Math.min(...values) : Math.max(...values);
  return { name, value, comparison, limit, unit: "x" };
}

/** Issue #24's goal: nginx over TLS → foobar at least this share of nginx over TLS → the cluster. */
export const TLS_TIER_LIMIT = 0.95;

/**
 * Issue #24's encrypted tier as a target row: the tls section's measure (nginx over TLS and
 * HTTP/2 in front of foobar N workers / in front of a Node cluster of N) against its goal. As
 * in the section's own row (`measureCheck`), failed requests on foobar's side miss it and are
 * named, on the cluster's side leave it unmeasured; a section that did not run leaves it
 * unmeasured.
 */
export function encryptedTierCheck(measures: PairedMeasure[], workers: number): TargetCheck {
  const name = `nginx → foobar ${workers}w / nginx → node cluster ${workers}w, over TLS + HTTP/2, req/s`;
  const [measure] = measures;
  if (measure === undefined)
    return worstCheck(name, [], { comparison: ">=", limit: TLS_TIER_LIMIT });
  const failed = measure.unmeasured === undefined ? errorsOf(measure.foobar) : 0;
  return {
    ...measureCheck(measure),
    name: failed > 0 ? `${name} (foobar: ${failed} failed requests)` : name,
  };
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : "–";

/** How many digits a value of this size needs to be read (1234 MB/s, 0.84 ms). */
function shown(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return Math.abs(value) >= 100
    ? value.toFixed(0)
    : Math.abs(value) >= 1
      ? value.toFixed(1)
      : value.toFixed(2);
}

/** A section's table: both sides' medians, the paired ratio and its verdict. */
export function sectionTable(measures: PairedMeasure[]): string {
  const withExtra = measures.some((m) => m.extraUnit !== undefined);
  const rows = measures.map((m) => {
    const check = measureCheck(m);
    const met = targetMet(check);
    const verdict =
      met === undefined ? `not measured (${check.unmeasured ?? "n/a"})` : met ? "met" : "MISSED";
    const extra = (side: RoundValue[]) =>
      median(side.flatMap((v) => (v.extra === undefined ? [] : [v.extra])));
    const cells = [
      check.name,
      `${m.foobarWay} / ${m.nodeWay}`,
      m.unit,
      shown(median(m.foobar.map((v) => v.value))),
      shown(median(m.node.map((v) => v.value))),
      `${fixed(check.value, 2)}×`,
      `${m.comparison === ">=" ? "≥" : "≤"} ${m.limit}×`,
      verdict,
    ];
    if (withExtra)
      cells.push(
        m.extraUnit === undefined
          ? ""
          : `${shown(extra(m.foobar))} / ${shown(extra(m.node))} ${m.extraUnit}`,
      );
    return cells;
  });
  const header = [
    "measure",
    "foobar / node:http",
    "unit",
    "foobar",
    "node:http",
    "ratio",
    "goal",
    "verdict",
  ];
  if (withExtra) header.push("also measured, foobar / node:http");
  return markdownTable(header, rows, [false, false, false, true, true, true, true, false, false]);
}
