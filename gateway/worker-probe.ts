/**
 * A worker's side of the stats page (worker-stats.ts is the master's): what this worker is
 * doing, told to the master over the IPC channel the heartbeat already uses.
 *
 * The request path only updates a Map (a request starts: set; it ends: delete). Nothing is
 * sent per request: an unref'd timer sends a snapshot a few times a second while something
 * changes, and once a second otherwise — like the heartbeat, it fires only while the event loop
 * is free, so a stuck worker falls silent and the master sees its last words.
 *
 * Imports nothing: the master imports this file for the message's shape, and must never load
 * a worker's request path.
 */

/** How often a changed snapshot may go out, and how often one goes out anyway. */
export const PROBE_FAST_MS = 250;
export const PROBE_SLOW_MS = 1000;

/** The request a worker has been serving longest, as the stats show it. */
export interface RequestInProgress {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  /** `Date.now()` in the worker when the request arrived. */
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
  oldest: RequestInProgress | null;
  /** Resident set size, bytes. */
  rss: number;
}

export function isWorkerStatsMessage(message: unknown): message is WorkerStatsMessage {
  return (message as { gateway?: unknown } | null)?.gateway === "stats";
}

/** A request the probe follows: anything with a method and url (an IncomingMessage). */
interface Request {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

export class WorkerProbe {
  /** Requests in progress → when each arrived; insertion order makes the first the oldest. */
  readonly #inFlight = new Map<Request, number>();
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
    this.#inFlight.set(request, Date.now());
  }

  /** Also called for a request refused before it started (a 400): nothing to forget then. */
  requestFinished(request: Request): void {
    this.#inFlight.delete(request);
  }

  snapshot(): WorkerStatsMessage {
    let oldest: RequestInProgress | null = null;
    for (const [request, since] of this.#inFlight) {
      oldest = { method: request.method ?? "-", path: request.url ?? "", since };
      break;
    }
    return {
      gateway: "stats",
      served: this.served(),
      maxRequests: this.maxRequests,
      inFlight: this.#inFlight.size,
      oldest,
      rss: process.memoryUsage.rss(),
    };
  }

  #report(force: boolean): void {
    const now = Date.now();
    const message = this.snapshot();
    // RSS moves by a page now and then; only the requests make a snapshot worth sending early.
    const key = `${message.served} ${message.inFlight} ${message.oldest?.since ?? ""}`;
    if (!force && key === this.#lastSent && now - this.#lastSentAt < PROBE_SLOW_MS) return;
    this.#lastSent = key;
    this.#lastSentAt = now;
    this.send(message);
  }
}
