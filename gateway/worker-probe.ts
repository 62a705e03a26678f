/**
 * A worker's side of the stats page (worker-stats.ts is the master's): what this worker is
 * doing, told to the master over the IPC channel the heartbeat already uses.
 *
 * The request path pays two field writes per request (a counter and the request last started:
 * no clock, no allocation, no Map). Nothing is sent per request: an unref'd timer sends a
 * snapshot a few times a second while something changes, and once a second otherwise. Like
 * the heartbeat, it fires only while the event loop is free, so a stuck worker falls silent
 * and the master keeps its last words. How long a request has been running is counted from
 * the first snapshot that saw it — at most PROBE_FAST_MS after it began.
 *
 * Imports nothing: protocol.ts, which the master loads, imports this file for the message's
 * shape, and the master must never load a worker's request path.
 */

/** How often a changed snapshot may go out, and how often one goes out anyway. */
export const PROBE_FAST_MS = 250;
export const PROBE_SLOW_MS = 1000;

/** A request in progress, as the stats show it. */
export interface RequestInProgress {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  /** `Date.now()` in the worker when a snapshot first saw it in progress. */
  since: number;
}

/** The message: `gateway` makes the master read it as a heartbeat too. */
export interface WorkerStatsMessage {
  gateway: "stats";
  /** Requests answered since this worker booted. */
  served: number;
  /** This worker's own max-requests bound after jitter; 0: none. */
  maxRequests: number;
  /** Requests started and not yet answered. */
  inFlight: number;
  /**
   * The request started last, while it is still in progress; null when none is (or when it
   * ended before an older one still in flight: then only `inFlight` says so).
   */
  current: RequestInProgress | null;
  /** Resident set size, bytes. */
  rss: number;
}

/** A request the probe follows: anything with a method and url (an IncomingMessage). */
interface Request {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

export class WorkerProbe {
  #inFlight = 0;
  #current: Request | null = null;
  /** The request the last snapshot saw as current, and when it first saw it. */
  #seen: Request | null = null;
  #seenSince = 0;
  #lastSent = "";
  #lastSentAt = 0;

  constructor(
    private readonly maxRequests: number,
    /** The worker's own count of requests answered. */
    private readonly served: () => number,
    private readonly send: (message: WorkerStatsMessage) => void,
  ) {}

  /** Sends a first snapshot, then keeps the master informed until the process exits. */
  start(): void {
    this.#report(true);
    setInterval(() => this.#report(false), PROBE_FAST_MS).unref();
  }

  requestStarted(request: Request): void {
    this.#inFlight += 1;
    this.#current = request;
  }

  requestFinished(request: Request): void {
    this.#inFlight -= 1;
    if (this.#current === request) this.#current = null;
  }

  snapshot(now = Date.now()): WorkerStatsMessage {
    const current = this.#current;
    if (current !== this.#seen) {
      this.#seen = current;
      this.#seenSince = now;
    }
    return {
      gateway: "stats",
      served: this.served(),
      maxRequests: this.maxRequests,
      inFlight: this.#inFlight,
      current:
        current === null
          ? null
          : { method: current.method ?? "-", path: current.url ?? "", since: this.#seenSince },
      rss: process.memoryUsage.rss(),
    };
  }

  #report(force: boolean): void {
    const now = Date.now();
    const message = this.snapshot(now);
    // RSS moves by a page now and then; only the requests make a snapshot worth sending early.
    const key = `${message.served} ${message.inFlight} ${message.current?.since ?? ""}`;
    if (!force && key === this.#lastSent && now - this.#lastSentAt < PROBE_SLOW_MS) return;
    this.#lastSent = key;
    this.#lastSentAt = now;
    this.send(message);
  }
}
