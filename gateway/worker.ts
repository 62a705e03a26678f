/**
 * One worker process: imports the app, accepts connections on the listening sockets it shares
 * with its siblings, serves requests, and tells the master it is alive.
 *
 * Life of a worker, top to bottom:
 *   boot     heartbeat timer and signals first, then post_fork, import the app (exit 4 if it
 *            fails), listen on every --bind (exit 3 if it cannot), post_worker_init, "ready".
 *   serve    each request: scoreboard note, pre_request, app, access log, metrics,
 *            post_request; after --max-requests, ask the master for a replacement.
 *   stop     TERM: stop accepting, tell the master; keep connections alive until the master
 *            says the listening socket is closed everywhere ("close-connections"), then close
 *            each after its response and let idle ones expire; exit 0 when none is left.
 *            INT/QUIT: worker_int, exit at once.
 * The master sees our heartbeat over IPC; if the master dies the IPC channel closes and Node's
 * cluster module exits the worker.
 */
import { chmodSync, closeSync, openSync, writeSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import { AccessLog } from "./access-log.js";
import { AppImportError, loadApp } from "./app-loader.js";
import { describeListener, parseAddress } from "./addresses.js";
import { listenOnInheritedSocket } from "./inherited-socket.js";
import { loadHooks } from "./config.js";
import type { Settings } from "./settings.js";
import {
  callHook,
  callHookSync,
  type ExchangeRecord,
  type Hooks,
  type ServerView,
  type WorkerView,
} from "./hooks.js";
import { LogFile, Logger } from "./log.js";
import { createWorkerMetrics } from "./metrics.js";
import { closeConnectionsAfterResponse, createGatewayServer, stopAccepting } from "./server.js";
import {
  EXIT_APP,
  EXIT_BOOT,
  isMasterMessage,
  readWorkerBoot,
  sendToMaster,
  WORKER_ENV,
  type WorkerBoot,
} from "./protocol.js";
import { WorkerProbe } from "./worker-probe.js";
import type { Environ } from "@foobar/tsgi";

/**
 * The scoreboard: a small file per worker holding the request line it last started, written
 * with one positioned write per request (no allocation, ~1.5 µs; skipped when the line is the
 * one already there) so the master can name the request when this worker's loop is stuck and
 * cannot answer anything any more.
 */
class Scoreboard {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(512);
  constructor(path: string) {
    this.#fd = openSync(path, "w");
  }
  #lastMethod = "";
  #lastUrl = "";
  note(method: string, url: string): void {
    // The file already says this (the same request line as the previous request): a write
    // would change nothing and costs a system call (~1.5 µs of CPU) on every request.
    if (url === this.#lastUrl && method === this.#lastMethod) return;
    const length = this.#buffer.write(`${method} ${url}`.slice(0, 500), 0, "latin1");
    this.#buffer[length] = 0x0a;
    try {
      writeSync(this.#fd, this.#buffer, 0, length + 1, 0);
      this.#lastMethod = method;
      this.#lastUrl = url;
    } catch {
      // Only a diagnostic: never fail a request over it.
    }
  }
  close(): void {
    closeSync(this.#fd);
  }
}

export class Worker implements WorkerView {
  readonly pid = process.pid;
  readonly age: number;
  readonly settings: Settings;
  readonly log: Logger;
  hooks: Partial<Hooks> = {};
  served = 0;
  readonly maxRequests: number;
  #servers: Server[] = [];
  #accessLog: AccessLog | null = null;
  #stopping = false;
  #retiring = false;
  readonly #scoreboard: Scoreboard;
  readonly #boot: WorkerBoot;

  constructor(boot: WorkerBoot) {
    this.#boot = boot;
    this.settings = boot.settings;
    this.age = boot.age;
    this.log = new Logger(new LogFile(boot.settings.errorlog, 2), boot.settings.loglevel);
    this.#scoreboard = new Scoreboard(boot.scoreboard);
    const { max_requests, max_requests_jitter } = boot.settings;
    // Gunicorn's jitter: each worker gets its own limit so they do not all restart together.
    this.maxRequests =
      max_requests > 0 ? max_requests + Math.floor(Math.random() * (max_requests_jitter + 1)) : 0;
  }

  get server(): ServerView {
    return { pid: this.#boot.masterPid, settings: this.settings, log: this.log };
  }

  async run(): Promise<void> {
    const { settings } = this;
    process.title = `gateway: worker [${settings.proc_name ?? settings.app}]`;
    this.#startHeartbeat();
    this.#installSignals();

    if (settings.config !== null) this.hooks = await loadHooks(settings.config);
    await callHook(this.hooks, "post_fork", this.log, this.server, this);

    let app;
    try {
      // A fresh process: the import reads the code as it is on disk now (what HUP relies on).
      app = await loadApp(settings.app ?? "");
    } catch (error) {
      const message = error instanceof AppImportError ? error.message : String(error);
      this.log.error("%s", message);
      process.exit(EXIT_APP);
    }

    const accessLog = (this.#accessLog =
      settings.accesslog === null
        ? null
        : new AccessLog(
            new LogFile(settings.accesslog, 1),
            settings.access_log_format,
            settings.access_log_json,
          ));
    const observe = settings.metrics_bind === null ? null : await createWorkerMetrics();
    // The master's stats page (--metrics-bind) hears what this worker does (worker-probe.ts).
    const probe =
      settings.metrics_bind === null
        ? null
        : new WorkerProbe(this.maxRequests, () => this.served, sendToMaster);

    // The hooks are loaded by now and never change: a worker without them (the usual case)
    // does not pay a call per request for nothing.
    const { pre_request, post_request } = this.hooks;
    const options = {
      log: this.log,
      beforeRequest: (request: IncomingMessage, environ: Environ) => {
        this.#scoreboard.note(request.method ?? "-", request.url ?? "");
        probe?.requestStarted(request);
        if (pre_request !== undefined)
          callHookSync(this.hooks, "pre_request", this.log, this, request, environ);
      },
      afterResponse: (record: ExchangeRecord) => {
        accessLog?.write(record);
        observe?.(record);
        if (post_request !== undefined)
          callHookSync(
            this.hooks,
            "post_request",
            this.log,
            this,
            record.request,
            record.environ,
            record,
          );
        this.#countRequest();
        // No environ: refused before beforeRequest ran (a 400), so never counted in.
        if (record.environ !== undefined) probe?.requestFinished(record.request);
      },
      // Only the access log, the metrics and post_request read a record's startedAt.
      timesRequests: accessLog !== null || observe !== null || post_request !== undefined,
    };
    // tsgi.multiprocess is true even with one worker (Gunicorn says workers > 1): a HUP reload,
    // a max_requests replacement or a TTIN can run another process with the same app at any time.
    const serverSettings = { ...settings, multiprocess: true };
    const addresses: string[] = [];
    for (const bind of settings.bind) {
      const server = createGatewayServer(app, serverSettings, options);
      this.#servers.push(server);
      addresses.push(await this.#listen(server, bind));
    }
    await callHook(this.hooks, "post_worker_init", this.log, this);
    sendToMaster({ gateway: "ready", addresses });
    probe?.start();
  }

  #listen(server: Server, bind: string): Promise<string> {
    const address = parseAddress(bind);
    return new Promise((resolve) => {
      server.once("error", (error) => {
        this.log.error("Cannot listen on %s: %s", bind, error.message);
        process.exit(EXIT_BOOT);
      });
      const onListening = () => {
        // The master's cluster module binds the socket with the process umask (0755 under the
        // usual 022); --umask says who may connect, e.g. nginx running as another user.
        if ("path" in address) chmodSync(address.path, 0o777 & ~this.settings.umask);
        resolve(describeListener(server.address()));
      };
      const backlog = this.settings.backlog;
      if ("fd" in address) {
        try {
          listenOnInheritedSocket(server, address.fd, onListening);
        } catch (error) {
          this.log.error("Cannot listen on %s: %s", bind, (error as Error).message);
          process.exit(EXIT_BOOT);
        }
      } else if ("path" in address) server.listen({ path: address.path, backlog }, onListening);
      else server.listen({ host: address.host, port: address.port, backlog }, onListening);
    });
  }

  /** An IPC message from an unref'd timer: it fires only while the event loop is free. */
  #startHeartbeat(): void {
    const timeout = this.settings.timeout;
    const every = timeout > 0 ? Math.min(1000, (timeout * 1000) / 4) : 1000;
    sendToMaster({ gateway: "heartbeat" });
    setInterval(() => sendToMaster({ gateway: "heartbeat" }), every).unref();
  }

  #installSignals(): void {
    process.on("SIGTERM", () => this.stop());
    process.on("message", (message: unknown) => {
      if (isMasterMessage(message)) this.#closeConnections();
    });
    const quick = () => {
      callHookSync(this.hooks, "worker_int", this.log, this);
      this.#exit(0);
    };
    process.on("SIGINT", quick);
    process.on("SIGQUIT", quick);
    process.on("SIGUSR1", () => {
      this.log.file.reopen();
      this.#accessLog?.file.reopen();
    });
    // Meant for the master; sent to the whole process group they must not stop a worker
    // (TTIN/TTOU's default action would suspend it, HUP's would kill it).
    for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU", "SIGWINCH"] as const)
      process.on(signal, () => {});
  }

  #countRequest(): void {
    this.served += 1;
    if (this.maxRequests > 0 && this.served >= this.maxRequests && !this.#retiring) {
      this.#retiring = true;
      this.log.info("Autorestarting worker after current request (served %d).", this.served);
      // The master starts our replacement first and sends TERM once it is ready: no gap.
      sendToMaster({ gateway: "retire", served: this.served });
    }
  }

  /** Graceful stop (TERM). */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.log.info("Worker exiting (pid: %d)", process.pid);
    let open = this.#servers.length;
    if (open === 0) this.#exit(0);
    for (const server of this.#servers)
      stopAccepting(server, () => {
        open -= 1;
        if (open === 0) this.#exit(0);
      });
    // The master answers "close-connections" (#closeConnections) once no process accepts on
    // our sockets any more; without a master there is nobody to wait for.
    if (process.connected) sendToMaster({ gateway: "stopped-accepting" });
    else this.#closeConnections();
  }

  #closeConnections(): void {
    for (const server of this.#servers) closeConnectionsAfterResponse(server);
  }

  #exit(code: number): void {
    callHookSync(this.hooks, "worker_exit", this.log, this.server, this);
    this.#scoreboard.close();
    process.exit(code);
  }
}

/** Entry point of a worker process (cli.ts calls it when cluster says we are a worker). */
export async function runWorker(): Promise<void> {
  const boot = readWorkerBoot();
  if (boot === null) {
    process.stderr.write(`gateway: worker started without ${WORKER_ENV}\n`);
    process.exit(EXIT_BOOT);
  }
  // Everything up to "ready" is booting — the constructor too (it opens the scoreboard in
  // --worker-tmp-dir): whatever fails there must exit 3, so the master stops instead of
  // respawning a worker that can never boot.
  // (Until the worker has opened its error log, boot errors go to stderr.)
  let log = new Logger(new LogFile("-", 2), boot.settings.loglevel);
  try {
    const worker = new Worker(boot);
    log = worker.log;
    await worker.run();
  } catch (error) {
    log.error("Worker failed to boot: %s", error instanceof Error ? error.message : error);
    if (error instanceof Error) log.debug("%s", error.stack ?? "");
    process.exit(EXIT_BOOT);
  }
}
