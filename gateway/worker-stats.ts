/**
 * What the master knows of its workers, as one JSON document: each worker's state and current
 * request, and a bounded log of what the arbiter did recently and why. The arbiter reports its
 * decisions here (spawned, stopped, killed, exited, TTIN/TTOU, HUP); the workers' probes
 * (worker-probe.ts) report what they serve. stats-page.ts serves the document, `gateway
 * status` prints it. docs/gateway.md describes every field.
 *
 * The master side only: this file must not load a worker's request path.
 */
import { performance } from "node:perf_hooks";
import type { WorkerStatsMessage } from "./worker-probe.js";

/** How many arbiter events the log keeps (the oldest go first). */
export const EVENT_LOG_SIZE = 100;

/** A worker as the arbiter keeps it (its WorkerRecord), as far as the stats read it. */
export interface WorkerRecordView {
  readonly pid: number;
  /** Gunicorn's `age`: this worker was the age-th the master spawned. */
  readonly age: number;
  readonly state: "booting" | "ready" | "retiring" | "stopping";
  /** `performance.now()` when the worker's last message (heartbeat or stats) arrived. */
  readonly lastHeartbeat: number;
  readonly reason?: string | undefined;
}

export interface ArbiterView {
  readonly pid: number;
  readonly name: string;
  readonly numWorkers: number;
  readonly workers: ReadonlyMap<number, WorkerRecordView>;
}

/** What a worker is doing, as the stats show it. */
export type WorkerState = "booting" | "idle" | "busy" | "retiring";

export interface WorkerStats {
  pid: number;
  age: number;
  generation: number;
  state: WorkerState;
  /** Why it is retiring: reload, max_requests, ttou, timeout, shutdown …; else null. */
  reason: string | null;
  uptime_s: number;
  requests: number;
  /** Its max-requests bound, jitter included; 0: never recycled. */
  max_requests: number;
  in_flight: number;
  /** The request it started last, while in progress (worker-probe.ts), or null. */
  request: { method: string; path: string; for_s: number } | null;
  heartbeat_age_s: number;
  rss_bytes: number | null;
}

export type EventKind =
  | "spawned"
  | "booted"
  | "stop"
  | "exited"
  | "timeout"
  | "killed"
  | "max_requests"
  | "ttin"
  | "ttou"
  | "hup"
  | "hup_completed"
  | "hup_failed";

export interface ArbiterEvent {
  /** ISO 8601, UTC. */
  time: string;
  kind: EventKind;
  /** The worker concerned, or null for the master's own (TTIN, HUP …). */
  pid: number | null;
  reason: string;
  /** For `exited`: how the process ended (one of the two is null). */
  code?: number | null;
  signal?: string | null;
}

export interface StatsDocument {
  time: string;
  master: {
    pid: number;
    name: string;
    generation: number;
    workers_wanted: number;
    uptime_s: number;
    rss_bytes: number;
  };
  workers: WorkerStats[];
  events: ArbiterEvent[];
}

/** What the master remembers of one worker beyond the arbiter's record. */
interface Known {
  generation: number;
  spawnedAt: number;
  heard: WorkerStatsMessage | null;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

export class WorkerStatsBoard {
  readonly #arbiter: ArbiterView;
  readonly #known = new Map<number, Known>();
  readonly #events: ArbiterEvent[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #startedAt = performance.now();
  /** Which HUP the workers spawned now belong to (0: started before any HUP). */
  #generation = 0;
  #hups = 0;
  /** The generation a HUP in progress replaces, until it completes or fails. */
  #reloading: number | null = null;

  constructor(arbiter: ArbiterView) {
    this.#arbiter = arbiter;
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- what the arbiter reports ----

  spawned(pid: number, age: number): void {
    this.#known.set(pid, {
      generation: this.#generation,
      spawnedAt: performance.now(),
      heard: null,
    });
    this.#log("spawned", pid, `worker #${age}, generation ${this.#generation}`);
  }

  booted(pid: number): void {
    this.#log("booted", pid, "imported the app and listens: it serves from now on");
    this.#checkReload();
  }

  heard(pid: number, message: WorkerStatsMessage): void {
    const known = this.#known.get(pid);
    if (known === undefined) return;
    known.heard = message;
    this.#changed();
  }

  /** `reason` says why the arbiter asked it to go (undefined: it went on its own). */
  exited(
    pid: number,
    exit: { code: number | null; signal: string | null },
    reason: string | undefined,
    booted: boolean,
  ): void {
    this.#known.delete(pid);
    const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    const why =
      reason !== undefined ? `, ${reason}` : booted ? ", unexpectedly" : ", while booting";
    this.#log("exited", pid, `${how}${why}`, { code: exit.code, signal: exit.signal });
    this.#checkReload();
  }

  /** Any other decision of the arbiter about one worker, or about the master (pid null). */
  event(kind: EventKind, pid: number | null, reason: string): void {
    this.#log(kind, pid, reason);
  }

  hupStarted(): void {
    this.#reloading ??= this.#generation;
    this.#hups += 1;
    this.#generation = this.#hups;
    this.#log("hup", null, `reload: generation ${this.#generation} replaces the running workers`);
  }

  hupFailed(reason: string): void {
    if (this.#reloading !== null) this.#generation = this.#reloading;
    this.#reloading = null;
    this.#log("hup_failed", null, reason);
  }

  /** A HUP is complete once its workers all booted and every worker it replaced is gone. */
  #checkReload(): void {
    if (this.#reloading === null) return;
    for (const worker of this.#arbiter.workers.values())
      if (worker.state === "booting" || worker.reason === "reload") return;
    this.#reloading = null;
    this.#log("hup_completed", null, `generation ${this.#generation} serves alone`);
  }

  #log(
    kind: EventKind,
    pid: number | null,
    reason: string,
    exit?: Pick<ArbiterEvent, "code" | "signal">,
  ): void {
    this.#events.push({ time: new Date().toISOString(), kind, pid, reason, ...exit });
    if (this.#events.length > EVENT_LOG_SIZE) this.#events.shift();
    this.#changed();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  // ---- the document ----

  document(): StatsDocument {
    const now = performance.now();
    const wall = Date.now();
    const workers = [...this.#arbiter.workers.values()]
      .sort((a, b) => a.age - b.age)
      .map((record) => this.#describe(record, now, wall));
    return {
      time: new Date(wall).toISOString(),
      master: {
        pid: this.#arbiter.pid,
        name: this.#arbiter.name,
        generation: this.#generation,
        workers_wanted: this.#arbiter.numWorkers,
        uptime_s: seconds(now - this.#startedAt),
        rss_bytes: process.memoryUsage.rss(),
      },
      workers,
      events: [...this.#events],
    };
  }

  #describe(record: WorkerRecordView, now: number, wall: number): WorkerStats {
    const known = this.#known.get(record.pid);
    const heard = known?.heard ?? null;
    const current = heard?.current ?? null;
    return {
      pid: record.pid,
      age: record.age,
      generation: known?.generation ?? this.#generation,
      state: stateOf(record, heard),
      reason:
        record.state === "retiring" || record.state === "stopping" ? (record.reason ?? null) : null,
      uptime_s: seconds(now - (known?.spawnedAt ?? now)),
      requests: heard?.served ?? 0,
      max_requests: heard?.maxRequests ?? 0,
      in_flight: heard?.inFlight ?? 0,
      request:
        current === null
          ? null
          : {
              method: current.method,
              path: current.path,
              for_s: seconds(Math.max(0, wall - current.since)),
            },
      heartbeat_age_s: seconds(now - record.lastHeartbeat),
      rss_bytes: heard?.rss ?? null,
    };
  }
}

function stateOf(record: WorkerRecordView, heard: WorkerStatsMessage | null): WorkerState {
  if (record.state === "booting") return "booting";
  if (record.state !== "ready") return "retiring";
  return (heard?.inFlight ?? 0) > 0 ? "busy" : "idle";
}
