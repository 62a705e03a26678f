/**
 * What the master and its workers say to each other, and nothing else: the boot description a
 * worker finds in its environment, the messages it sends over the IPC channel, and the exit
 * codes both read. The master (arbiter.ts) imports this file instead of worker.ts, so it never
 * loads the request path (handler, HTTP server, environ) that only workers run; the
 * architecture test (tests/unit/architecture/imports.test.ts) fails if it does.
 *
 * A new message kind is one member of `WorkerMessage` and one branch in the arbiter's
 * `#onMessage`; `sendToMaster` and `isWorkerMessage` need no change.
 */
import type { Settings } from "./settings.js";
import type { WorkerStatsMessage } from "./worker-probe.js";

/**
 * Exit codes, Gunicorn's. The command line exits with them before the master starts
 * (startup.ts); a worker exits with 3 or 4, which the master reads as "do not respawn".
 */
export const EXIT_USAGE = 2;
/** The server cannot boot here: a path it cannot write, an address it cannot bind. */
export const EXIT_BOOT = 3;
/** The app cannot be found or imported. */
export const EXIT_APP = 4;

/** The environment variable that carries a worker's `WorkerBoot`, as JSON. */
export const WORKER_ENV = "GATEWAY_WORKER_BOOT";

/** What the master passes to a new worker, in the environment. */
export interface WorkerBoot {
  settings: Settings;
  age: number;
  scoreboard: string;
  masterPid: number;
}

/** Messages a worker sends the master; `gateway` names the kind. */
export type WorkerMessage =
  | { gateway: "heartbeat" }
  | { gateway: "ready"; addresses: string[] }
  | { gateway: "retire"; served: number }
  /** After TERM: this worker has closed its copy of the listening sockets (server.ts). */
  | { gateway: "stopped-accepting" }
  /** What the worker is doing, for the stats page (worker-probe.ts); a heartbeat too. */
  | WorkerStatsMessage;

/** True for a message of ours (the IPC channel may carry an app's own messages too). */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof (message as { gateway?: unknown } | null)?.gateway === "string";
}

/**
 * Messages the master sends a worker. `close-connections`: end each kept-alive connection after
 * its next response. A stopping worker waits for it, because the listening socket closes only
 * when its last copy does (arbiter.ts, `#releaseConnections`).
 */
export type MasterMessage = { gateway: "close-connections" };

/** True for a message of the master's (see `isWorkerMessage`). */
export function isMasterMessage(message: unknown): message is MasterMessage {
  return (message as { gateway?: unknown } | null)?.gateway === "close-connections";
}

/** Sends `message` to the master; dropped if the channel is closed (the master is gone). */
export function sendToMaster(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/** The `WorkerBoot` in this process's environment, or null if it was started without one. */
export function readWorkerBoot(env: NodeJS.ProcessEnv = process.env): WorkerBoot | null {
  return JSON.parse(env[WORKER_ENV] ?? "null") as WorkerBoot | null;
}
