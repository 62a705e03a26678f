/**
 * Server hooks: functions a config file may export, called at Gunicorn's moments with
 * Gunicorn's names. `server` is the master (the Arbiter, or in a worker process a small view
 * of it); `worker` describes one worker. A hook that throws is logged and does not stop the
 * server (except on_starting/when_ready, which abort the start, as in Gunicorn).
 */
import type { IncomingMessage } from "node:http";
import type { Environ, HeaderList } from "@foobar/tsgi";
import type { Logger } from "./log.js";
import type { Settings } from "./settings.js";

/**
 * What a finished exchange reports to the access log, metrics and `post_request`. handler.ts
 * builds it; it is defined here, beside the hook that receives it, so the master can name the
 * hooks without loading the request path.
 */
export interface ExchangeRecord {
  environ: Environ | undefined;
  request: IncomingMessage;
  status: number;
  /** Body bytes the app produced (what went on the wire, for a GET). */
  bytes: number;
  /** Response headers as the app gave them (the server's own are not included). */
  headers: HeaderList;
  /** `process.hrtime.bigint()` when the request arrived; 0n unless `timesRequests`. */
  startedAt: bigint;
}

/** What hooks see of the master. */
export interface ServerView {
  readonly pid: number;
  readonly settings: Settings;
  readonly log: Logger;
}

/** What hooks see of a worker. */
export interface WorkerView {
  /** The worker's pid (0 in pre_fork: not started yet). */
  readonly pid: number;
  /** Spawn counter: higher is younger. */
  readonly age: number;
  readonly settings: Settings;
  readonly log: Logger;
}

export interface Hooks {
  on_starting(server: ServerView): void | Promise<void>;
  when_ready(server: ServerView): void | Promise<void>;
  pre_fork(server: ServerView, worker: WorkerView): void;
  post_fork(server: ServerView, worker: WorkerView): void | Promise<void>;
  post_worker_init(worker: WorkerView): void | Promise<void>;
  worker_int(worker: WorkerView): void;
  pre_request(worker: WorkerView, request: IncomingMessage, environ: Environ): void;
  post_request(
    worker: WorkerView,
    request: IncomingMessage,
    environ: Environ | undefined,
    response: ExchangeRecord,
  ): void;
  child_exit(server: ServerView, worker: WorkerView): void;
  worker_exit(server: ServerView, worker: WorkerView): void;
  nworkers_changed(server: ServerView, newValue: number, oldValue: number | null): void;
  on_exit(server: ServerView): void;
  on_reload(server: ServerView): void;
}

export type HookName = keyof Hooks;

export const HOOK_NAMES: readonly HookName[] = [
  "on_starting",
  "when_ready",
  "pre_fork",
  "post_fork",
  "post_worker_init",
  "worker_int",
  "pre_request",
  "post_request",
  "child_exit",
  "worker_exit",
  "nworkers_changed",
  "on_exit",
  "on_reload",
];

export function isHookName(name: string): name is HookName {
  return (HOOK_NAMES as readonly string[]).includes(name);
}

/**
 * Calls a hook if the config set it; errors (thrown or rejected) are logged, not raised, so a
 * bug in a hook does not take the server down.
 */
export async function callHook<K extends HookName>(
  hooks: Partial<Hooks>,
  name: K,
  log: Logger,
  ...args: Parameters<Hooks[K]>
): Promise<void> {
  const hook = hooks[name] as ((...a: Parameters<Hooks[K]>) => unknown) | undefined;
  if (hook === undefined) return;
  try {
    await hook(...args);
  } catch (error) {
    log.error("Exception in %s hook: %s", name, error instanceof Error ? error.stack : error);
  }
}

/** The same, for hooks on the request path, which must stay synchronous. */
export function callHookSync<K extends HookName>(
  hooks: Partial<Hooks>,
  name: K,
  log: Logger,
  ...args: Parameters<Hooks[K]>
): void {
  const hook = hooks[name] as ((...a: Parameters<Hooks[K]>) => unknown) | undefined;
  if (hook === undefined) return;
  try {
    hook(...args);
  } catch (error) {
    log.error("Exception in %s hook: %s", name, error instanceof Error ? error.stack : error);
  }
}
