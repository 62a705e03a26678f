/**
 * The master process: keeps `workers` worker processes serving the app, and obeys signals.
 * Gunicorn's arbiter, in Node: node:cluster starts the processes (a fresh `node` running this
 * program, not a fork(2) copy of the master), and each worker accepts connections itself on
 * the listening socket the master shares with it (SCHED_NONE: the kernel hands each
 * connection to whichever worker calls accept() first; the master never touches a client).
 *
 * The main loop, as in arbiter.py:
 *   start()  pidfile, on_starting, signal handlers, spawn the workers
 *   loop     pop one queued signal → handle_<SIGNAL>(); if none, sleep up to 1 s (a signal
 *            or a worker exit wakes us), then reap dead workers, murder stuck ones, and
 *            manage the count (spawn missing, stop extra).
 *   stop()   TERM: workers finish what they serve and exit; INT/QUIT: at once.
 * Signal handlers only queue the signal; all the work happens in the loop.
 */
import cluster, { type Worker as ClusterWorker } from "node:cluster";
import { readFileSync, unlinkSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseAddress } from "./addresses.js";
import { inheritedSocketStdio, unusedSystemdSockets } from "./inherited-socket.js";
import { loadConfig, type LoadedConfig } from "./config.js";
import type { Settings } from "./settings.js";
import { callHook, callHookSync, type Hooks, type ServerView, type WorkerView } from "./hooks.js";
import { LogFile, Logger } from "./log.js";
import { MasterMetrics } from "./metrics.js";
import { Pidfile } from "./pidfile.js";
import { checkStartup } from "./startup.js";
import { removeStaleSocket } from "./unix-socket.js";
import { VERSION } from "./version.js";
import { WorkerStatsBoard } from "./worker-stats.js";
import { statsRoutes, writeAddressFile } from "./stats-page.js";
import {
  EXIT_APP,
  EXIT_BOOT,
  isWorkerMessage,
  type MasterMessage,
  WORKER_ENV,
  type WorkerBoot,
  type WorkerMessage,
} from "./protocol.js";

const SIGNALS = ["HUP", "TERM", "INT", "QUIT", "TTIN", "TTOU", "USR1"] as const;
type SignalName = (typeof SIGNALS)[number];
/** Gunicorn keeps at most 5 pending signals; more are dropped. */
const SIGNAL_QUEUE_LIMIT = 5;
/**
 * Workers that may die while booting, one after another with no worker booting successfully in
 * between, before the master stops trying (a crash can be a fluke: an OOM kill, a transient
 * error in a hook; five in a row is a worker that cannot boot). Exit codes 3 and 4 say so at
 * once: they use up the whole budget.
 */
export const BOOT_FAILURE_BUDGET = 5;
/**
 * Least time a booting worker gets before its heartbeat timeout applies: starting a fresh Node
 * process and importing the app can block its event loop for seconds on a busy machine, which a
 * short --timeout (meant for stuck requests) must not turn into kills.
 */
const BOOT_TIMEOUT_MS = 30_000;

/**
 * How long a worker that stopped on a signal from someone else keeps its connections alive
 * before the master releases them (`#releaseConnections`): time for this master to handle a TERM
 * sent to the whole process group at the same moment, however busy the machine.
 */
const UNASKED_STOP_GRACE_MS = 1000;

/** A worker as the master knows it. */
interface WorkerRecord extends WorkerView {
  process: ClusterWorker;
  /** booting → ready → (retiring: replacement on its way) → stopping → gone */
  state: "booting" | "ready" | "retiring" | "stopping";
  /** It said "ready" once: a death before that is a boot failure. */
  booted: boolean;
  lastHeartbeat: number;
  scoreboard: string;
  /** Why we are replacing or stopping it: reload, max_requests, timeout, ttou, shutdown. */
  reason?: string;
  stopDeadline?: number;
  killed: boolean;
  /** Stopping: it has closed its copy of the listening sockets ("stopped-accepting"). */
  stoppedAccepting: boolean;
  /** We told it to end its kept-alive connections ("close-connections"). */
  connectionsReleased: boolean;
}

interface WorkerExit {
  pid: number;
  code: number | null;
  signal: string | null;
}

/** The generation a HUP replaces: what a failed reload goes back to. */
interface Generation {
  settings: Settings;
  hooks: Partial<Hooks>;
  log: Logger;
  numWorkers: number;
}

function describeExit(exit: WorkerExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** Stops the whole server instead of respawning (a worker that cannot boot would loop). */
class HaltServer extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class Arbiter implements ServerView {
  readonly pid = process.pid;
  settings: Settings;
  hooks: Partial<Hooks>;
  log: Logger;
  readonly workers = new Map<number, WorkerRecord>();

  #numWorkers = 0;
  #signals: SignalName[] = [];
  #exits: WorkerExit[] = [];
  #wake: (() => void) | null = null;
  #age = 0;
  #stopping = false;
  #ready = false;
  #announced = new Set<string>();
  /** Boot failures since a worker last booted (see BOOT_FAILURE_BUDGET). */
  #bootFailures = 0;
  /** Why no worker is spawned until the next HUP, or null. */
  #spawnBlocked: string | null = null;
  /** The configuration before the last HUP, until that reload has succeeded or failed. */
  #previous: Generation | null = null;
  #pidfile: Pidfile | null = null;
  #metrics: MasterMetrics | null = null;
  #metricsServer: Server | null = null;
  /** The worker stats (worker-stats.ts), kept with --metrics-bind; every `#stats?.` is a report. */
  #stats: WorkerStatsBoard | null = null;
  #removeAddressFile: (() => void) | null = null;

  constructor(
    config: LoadedConfig,
    private readonly argv: string[],
  ) {
    this.settings = config.settings;
    this.hooks = config.hooks;
    this.log = Arbiter.#makeLogger(config.settings);
  }

  static #makeLogger(settings: Settings): Logger {
    return new Logger(new LogFile(settings.errorlog, 2), settings.loglevel);
  }

  get name(): string {
    return this.settings.proc_name ?? this.settings.app ?? "";
  }

  get numWorkers(): number {
    return this.#numWorkers;
  }

  set numWorkers(value: number) {
    const old = this.#numWorkers;
    this.#numWorkers = value;
    if (old !== value)
      callHookSync(this.hooks, "nworkers_changed", this.log, this, value, old === 0 ? null : old);
  }

  /** Runs until stopped; returns the process exit code. */
  async run(): Promise<number> {
    try {
      await this.start();
      for (;;) {
        const signal = this.#signals.shift();
        if (signal === undefined) {
          await this.sleep(1000);
          this.reapWorkers();
          this.murderWorkers();
          this.manageWorkers();
          continue;
        }
        this.log.info("Handling signal: %s", signal.toLowerCase());
        if (signal === "TERM") return await this.halt(true);
        if (signal === "INT" || signal === "QUIT") return await this.halt(false);
        await this[`handle${signal}`]();
      }
    } catch (error) {
      if (!(error instanceof HaltServer)) throw error;
      this.log.error("Shutting down: %s", error.message);
      await this.halt(false, error.exitCode);
      return error.exitCode;
    }
  }

  async start(): Promise<void> {
    this.log.info("Starting gateway %s", VERSION);
    const unused = unusedSystemdSockets([
      ...this.settings.bind,
      ...(this.settings.metrics_bind === null ? [] : [this.settings.metrics_bind]),
    ]);
    if (unused !== null) this.log.warning("%s", unused);
    if (this.settings.pidfile !== null) {
      const pidfile = new Pidfile(this.settings.pidfile);
      try {
        pidfile.create(this.pid);
      } catch (error) {
        throw new HaltServer((error as Error).message, 1);
      }
      this.#pidfile = pidfile;
    }
    await callHook(this.hooks, "on_starting", this.log, this);
    for (const name of SIGNALS)
      process.on(`SIG${name}`, () => {
        if (this.#signals.length < SIGNAL_QUEUE_LIMIT) this.#signals.push(name);
        this.#wakeup();
      });
    process.title = `gateway: master [${this.name}]`;

    // Pre-fork accept: every worker accepts on the shared socket itself.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.on("message", (worker, message: unknown) => {
      if (isWorkerMessage(message)) this.#onMessage(worker, message);
    });
    cluster.on("exit", (worker, code, signal) => {
      this.#exits.push({ pid: worker.process.pid ?? 0, code, signal });
      this.#wakeup();
    });

    await this.#prepareSockets();
    if (this.settings.metrics_bind !== null) {
      this.#metrics = await MasterMetrics.create();
      this.#stats = new WorkerStatsBoard(this);
      this.#metricsServer = this.#metrics.listen(
        parseAddress(this.settings.metrics_bind),
        this.log,
        statsRoutes(this.#stats),
      );
      this.#removeAddressFile = writeAddressFile(
        this.#metricsServer,
        this.settings.worker_tmp_dir,
        this.log,
      );
    }
    this.log.info("Using worker: cluster (pre-fork accept, SCHED_NONE)");
    this.numWorkers = this.settings.workers;
    this.manageWorkers();
  }

  async #prepareSockets(): Promise<void> {
    for (const bind of this.settings.bind) {
      const address = parseAddress(bind);
      if ("path" in address) await removeStaleSocket(address.path);
    }
  }

  // ---- the loop's helpers ----

  /** Waits up to `ms`, or until a signal arrives or a worker exits. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  #wakeup(): void {
    this.#wake?.();
  }

  #onMessage(child: ClusterWorker, message: WorkerMessage): void {
    const worker = this.workers.get(child.process.pid ?? 0);
    if (worker === undefined) return;
    worker.lastHeartbeat = performance.now();
    if (message.gateway === "stats") this.#stats?.heard(worker.pid, message);
    if (message.gateway === "stopped-accepting") {
      worker.stoppedAccepting = true;
      if (worker.state === "stopping") this.#releaseConnections();
      // A stop we did not ask for: someone signalled the worker itself — maybe the whole process
      // group (systemd's default KillMode, `kill -TERM -PGID`), whose TERM to this master may not
      // be handled yet. Wait a moment, so that the rule of a halt applies if one is coming.
      else setTimeout(() => this.#releaseConnections(), UNASKED_STOP_GRACE_MS).unref();
    }
    if (message.gateway === "ready") {
      // Only a worker of the current generation that just booted may release a retiring one;
      // an old worker whose "ready" arrives after a HUP retired it must not stop its sibling.
      const replacesRetiring = worker.state === "booting";
      if (replacesRetiring) worker.state = "ready";
      worker.booted = true;
      if (replacesRetiring) this.#stats?.booted(worker.pid);
      this.#bootFailures = 0;
      for (const address of message.addresses)
        if (!this.#announced.has(address)) {
          this.#announced.add(address);
          this.log.info("Listening at: %s (%d)", address, this.pid);
        }
      if (!this.#ready) {
        this.#ready = true;
        void callHook(this.hooks, "when_ready", this.log, this);
      }
      // A new worker is serving: one worker that waits for its replacement may go now. Once
      // the new generation is complete, so may the old workers it outnumbers (a HUP after
      // TTIN, or a config with fewer workers): nothing else would ever stop them.
      if (replacesRetiring) {
        const retiring = this.#byAge("retiring");
        const complete =
          this.#byAge("booting").length === 0 && this.#byAge("ready").length >= this.numWorkers;
        for (const old of complete ? retiring : retiring.slice(0, 1))
          this.stopWorker(old, old.reason ?? "retire");
      }
    } else if (message.gateway === "retire") {
      if (worker.state !== "ready") return;
      worker.state = "retiring";
      worker.reason = "max_requests";
      this.#stats?.event("max_requests", worker.pid, `served ${message.served}: recycled`);
      this.manageWorkers(); // spawns the replacement
      // Others can take the traffic meanwhile: stop it now. A lone worker waits until its
      // replacement is ready, or the listening socket (owned by the workers) would close.
      if (this.#byAge("ready").length > 0) this.stopWorker(worker, "max_requests");
      else
        this.log.info(
          "Worker (pid:%d) reached max_requests and is the only one serving: it serves on until its replacement is ready",
          worker.pid,
        );
    }
  }

  #byAge(state: WorkerRecord["state"]): WorkerRecord[] {
    return [...this.workers.values()]
      .filter((worker) => worker.state === state)
      .sort((a, b) => a.age - b.age);
  }

  /** Handles the exits Node reported since the last pass (SIGCHLD's job in Gunicorn). */
  reapWorkers({ halting = false } = {}): void {
    for (let exit = this.#exits.shift(); exit !== undefined; exit = this.#exits.shift()) {
      const worker = this.workers.get(exit.pid);
      if (worker === undefined) continue;
      this.workers.delete(exit.pid);
      this.#removeScoreboard(worker);
      this.#stats?.exited(exit.pid, exit, worker.reason, worker.booted);
      if (!halting && !worker.booted && worker.state !== "stopping") {
        this.#metrics?.countRestart("boot_failure");
        callHookSync(this.hooks, "child_exit", this.log, this, worker);
        this.#bootFailed(exit);
        continue;
      }
      if (exit.signal === "SIGKILL" && !worker.killed)
        this.log.error("Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?", exit.pid);
      else if (exit.signal !== null && !worker.killed && worker.state !== "stopping")
        this.log.error("Worker (pid:%d) was sent %s!", exit.pid, exit.signal);
      else if (exit.code !== 0 && exit.code !== null)
        this.log.error("Worker (pid:%d) exited with code %d", exit.pid, exit.code);
      if (!halting) {
        const reason =
          worker.reason ?? (exit.signal !== null ? "signal" : exit.code === 0 ? "exit" : "crash");
        if (reason !== "ttou") this.#metrics?.countRestart(reason);
      }
      callHookSync(this.hooks, "child_exit", this.log, this, worker);
    }
    this.#metrics?.setWorkers(this.workers.size);
  }

  /**
   * A worker died before it was ready. Within the budget it is simply replaced (by
   * manageWorkers). Past it, never a respawn loop: a HUP's new workers are dropped and the
   * previous generation keeps serving; otherwise, while booted workers still serve, no more
   * are spawned until the next HUP; with none left, the server stops — exit 4 if the app
   * failed to load, else 3 (Gunicorn's "Worker failed to boot").
   */
  #bootFailed(exit: WorkerExit): void {
    const definitive = exit.code === EXIT_BOOT || exit.code === EXIT_APP;
    this.#bootFailures = definitive ? BOOT_FAILURE_BUDGET : this.#bootFailures + 1;
    const how = describeExit(exit);
    if (this.#bootFailures < BOOT_FAILURE_BUDGET) {
      this.log.error(
        "Worker (pid:%d) died while booting (%s): boot failure %d of %d before giving up",
        exit.pid,
        how,
        this.#bootFailures,
        BOOT_FAILURE_BUDGET,
      );
      return;
    }
    if (this.#abandonReload(how)) return;
    const serving = [...this.workers.values()].filter(
      (worker) => worker.booted && worker.state !== "stopping",
    ).length;
    if (serving > 0) {
      this.#spawnBlocked = `workers cannot boot (${how})`;
      this.log.error(
        "Worker failed to boot (%s): not replacing workers until the next HUP; %d worker(s) keep serving",
        how,
        serving,
      );
      return;
    }
    throw exit.code === EXIT_APP
      ? new HaltServer("the app failed to load (see the error above)", EXIT_APP)
      : new HaltServer(`Worker failed to boot (pid:${exit.pid}, ${how})`, EXIT_BOOT);
  }

  /**
   * A new worker started by HUP cannot boot (broken code or config deployed): rather than
   * stop the server as at startup, go back to the previous generation — its workers keep
   * serving, and the configuration they were started with is the one later replacements get —
   * and drop the new workers. Returns false when there is no reload to abandon.
   */
  #abandonReload(how: string): boolean {
    const previous = this.#byAge("retiring").filter((worker) => worker.reason === "reload");
    if (previous.length === 0 || this.#previous === null) return false;
    this.#stats?.hupFailed(`new workers cannot boot (${how}): the previous ones keep serving`);
    this.log.error(
      "Reload failed: new workers cannot boot (%s); the previous workers keep serving",
      how,
    );
    for (const worker of previous) {
      worker.state = "ready";
      delete worker.reason;
    }
    for (const worker of this.#byAge("booting")) this.stopWorker(worker, "reload failed");
    ({ settings: this.settings, hooks: this.hooks, log: this.log } = this.#previous);
    this.numWorkers = this.#previous.numWorkers;
    this.#previous = null;
    this.#bootFailures = 0;
    return true;
  }

  /** Kills workers whose heartbeat stopped (a blocked event loop) or who overstay a stop. */
  murderWorkers(): void {
    const now = performance.now();
    const timeout = this.settings.timeout * 1000;
    for (const worker of this.workers.values()) {
      if (worker.killed) continue;
      const allowed = worker.booted ? timeout : Math.max(timeout, BOOT_TIMEOUT_MS);
      if (timeout > 0 && now - worker.lastHeartbeat > allowed) {
        const request = this.#scoreboardOf(worker);
        this.log.critical(
          "WORKER TIMEOUT (pid:%d)%s",
          worker.pid,
          request ? ` while serving ${request}` : "",
        );
        worker.reason = "timeout";
        this.#stats?.event(
          "timeout",
          worker.pid,
          `no heartbeat for ${this.settings.timeout} s${request ? ` while serving ${request}` : ""}: SIGKILL`,
        );
        this.#kill(worker, "SIGKILL");
      } else if (worker.stopDeadline !== undefined && now > worker.stopDeadline) {
        this.log.warning(
          "Worker (pid:%d) still busy after the graceful timeout: killed",
          worker.pid,
        );
        this.#stats?.event("killed", worker.pid, "still busy after the graceful timeout: SIGKILL");
        this.#kill(worker, "SIGKILL");
      }
    }
  }

  /** Spawns missing workers, or stops the oldest extra ones. */
  manageWorkers(): void {
    if (this.#stopping) return;
    const serving = [...this.workers.values()]
      .filter((worker) => worker.state === "booting" || worker.state === "ready")
      .sort((a, b) => a.age - b.age);
    if (this.#spawnBlocked === null)
      for (let missing = this.numWorkers - serving.length; missing > 0; missing -= 1)
        this.spawnWorker();
    // Too many: stop workers still booting first (newest first), then the oldest serving ones —
    // stopping every listening worker while the rest still boot would close the socket.
    const stopOrder = [
      ...serving.filter((worker) => !worker.booted).reverse(),
      ...serving.filter((worker) => worker.booted),
    ];
    for (const extra of stopOrder.slice(0, Math.max(0, serving.length - this.numWorkers)))
      this.stopWorker(extra, extra.reason ?? "ttou");
    this.#metrics?.setWorkers(this.workers.size);
  }

  spawnWorker(): void {
    this.#age += 1;
    const scoreboard = join(
      this.settings.worker_tmp_dir,
      `gateway-${this.pid}-${this.#age}.scoreboard`,
    );
    const boot: WorkerBoot = {
      settings: this.settings,
      age: this.#age,
      scoreboard,
      masterPid: this.pid,
    };
    const future: WorkerView = { pid: 0, age: this.#age, settings: this.settings, log: this.log };
    callHookSync(this.hooks, "pre_fork", this.log, this, future);
    // Each inherited socket (fd://) goes to the worker under its own number: it listens on it.
    cluster.setupPrimary({ silent: false, stdio: inheritedSocketStdio(this.settings.bind) });
    const child = cluster.fork({ [WORKER_ENV]: JSON.stringify(boot) });
    const pid = child.process.pid ?? 0;
    this.workers.set(pid, {
      pid,
      age: this.#age,
      settings: this.settings,
      log: this.log,
      process: child,
      state: "booting",
      booted: false,
      lastHeartbeat: performance.now(),
      scoreboard,
      killed: false,
      stoppedAccepting: false,
      connectionsReleased: false,
    });
    this.log.info("Booting worker with pid: %d", pid);
    this.#stats?.spawned(pid, this.#age);
  }

  /** Graceful stop of one worker: it finishes its requests; killed after graceful_timeout. */
  stopWorker(worker: WorkerRecord, reason: string): void {
    if (worker.state === "stopping") return;
    worker.state = "stopping";
    worker.reason = reason;
    worker.stopDeadline = performance.now() + this.settings.graceful_timeout * 1000;
    this.#stats?.event("stop", worker.pid, `${reason}: SIGTERM, it finishes its requests first`);
    this.#kill(worker, "SIGTERM");
  }

  /**
   * Tells the stopping workers that have stopped accepting to end their kept-alive connections
   * (worker.ts; why they wait: server.ts, `stopAccepting`). One worker stopping beside others:
   * at once, the others accept whatever new connections its clients open. A halt: only when
   * every worker has stopped accepting. By then no copy of the listening sockets is left — Node's
   * cluster module closes the master's own copy on the last worker's close, a message that
   * precedes the worker's "stopped-accepting" on the same channel — so a client's new
   * connection is refused at once, which nginx passes to another replica, even with a POST.
   */
  #releaseConnections(): void {
    const workers = [...this.workers.values()];
    if (this.#stopping && workers.some((worker) => !worker.stoppedAccepting)) return;
    for (const worker of workers) {
      if (!worker.stoppedAccepting || worker.connectionsReleased) continue;
      worker.connectionsReleased = true;
      const message: MasterMessage = { gateway: "close-connections" };
      // A worker with no connection left exits at once, maybe before this arrives: the callback
      // takes the failed write (EPIPE), which would otherwise be an 'error' event, unhandled.
      worker.process.send(message, () => {});
    }
  }

  #kill(worker: WorkerRecord, signal: NodeJS.Signals): void {
    if (signal === "SIGKILL") worker.killed = true;
    try {
      process.kill(worker.pid, signal);
    } catch {
      // Already gone: its exit event is on the way.
    }
  }

  #scoreboardOf(worker: WorkerRecord): string {
    try {
      const text = readFileSync(worker.scoreboard, "latin1");
      return text.slice(0, text.indexOf("\n") >>> 0).trim();
    } catch {
      return "";
    }
  }

  #removeScoreboard(worker: WorkerRecord): void {
    try {
      unlinkSync(worker.scoreboard);
    } catch {
      // never created
    }
  }

  // ---- signal handlers (TERM, INT and QUIT are handled by the loop: they end it) ----

  /** Reload: re-read the config, start new workers with fresh app code, retire the old ones. */
  async handleHUP(): Promise<void> {
    this.log.info("Hang up: %s", this.name);
    let config: LoadedConfig;
    try {
      config = await loadConfig(this.argv);
      // The start-up checks, before anything is switched: a reload to a path or an address this
      // machine cannot give is refused, and the running generation keeps serving.
      const { bind, metrics_bind } = this.settings;
      await checkStartup(config.settings, config.sources, {
        listening: metrics_bind === null ? bind : [...bind, metrics_bind],
      });
    } catch (error) {
      this.log.error(
        "Reload failed, keeping the running configuration: %s",
        (error as Error).message,
      );
      return;
    }
    this.#previous = {
      settings: this.settings,
      hooks: this.hooks,
      log: this.log,
      numWorkers: this.#numWorkers,
    };
    this.#spawnBlocked = null;
    this.#bootFailures = 0;
    this.settings = config.settings;
    this.hooks = config.hooks;
    this.log = Arbiter.#makeLogger(config.settings);
    if (this.#pidfile !== null && this.#pidfile.path !== this.settings.pidfile) {
      this.#pidfile.unlink();
      this.#pidfile = null;
    }
    if (this.settings.pidfile !== null && this.#pidfile === null) {
      this.#pidfile = new Pidfile(this.settings.pidfile);
      this.#pidfile.create(this.pid);
    }
    this.numWorkers = this.settings.workers;
    this.#stats?.hupStarted();
    await this.#prepareSockets();
    await callHook(this.hooks, "on_reload", this.log, this);
    // Old workers keep serving until each new worker is ready (see #onMessage).
    for (const worker of this.workers.values())
      if (worker.state === "booting" || worker.state === "ready") {
        worker.state = "retiring";
        worker.reason = "reload";
      }
    this.manageWorkers();
  }

  async handleTTIN(): Promise<void> {
    this.#stats?.event("ttin", null, `workers wanted: ${this.numWorkers} → ${this.numWorkers + 1}`);
    this.numWorkers += 1;
    this.manageWorkers();
  }

  async handleTTOU(): Promise<void> {
    this.#stats?.event(
      "ttou",
      null,
      this.numWorkers <= 1
        ? "ignored: the master keeps at least one worker"
        : `workers wanted: ${this.numWorkers} → ${this.numWorkers - 1}`,
    );
    if (this.numWorkers <= 1) return;
    this.numWorkers -= 1;
    this.manageWorkers();
  }

  /** Log rotation: reopen our files and tell the workers to reopen theirs. */
  async handleUSR1(): Promise<void> {
    this.log.file.reopen();
    for (const worker of this.workers.values()) this.#kill(worker, "SIGUSR1");
  }

  // ---- stopping ----

  /**
   * Stops every worker — TERM (graceful: up to graceful_timeout) or QUIT (quick) — then
   * kills what is left, runs on_exit, removes the pidfile. Returns the exit code.
   */
  async halt(graceful: boolean, exitCode = 0): Promise<number> {
    this.#stopping = true;
    this.#metricsServer?.close();
    this.#removeAddressFile?.();
    const deadline = performance.now() + this.settings.graceful_timeout * 1000;
    const signalAll = (signal: NodeJS.Signals) => {
      for (const worker of this.workers.values()) {
        worker.state = "stopping";
        this.#kill(worker, signal);
      }
    };
    signalAll(graceful ? "SIGTERM" : "SIGQUIT");
    while (this.workers.size > 0 && performance.now() < deadline) {
      await this.sleep(100);
      this.reapWorkers({ halting: true });
      this.#releaseConnections(); // a worker that exited without stopping first holds no copy
      // INT or QUIT during a graceful stop: hurry up.
      if (graceful && this.#signals.some((signal) => signal === "INT" || signal === "QUIT")) {
        graceful = false;
        this.#signals = [];
        signalAll("SIGQUIT");
      }
    }
    if (this.workers.size > 0) {
      signalAll("SIGKILL");
      for (let i = 0; i < 20 && this.workers.size > 0; i++) {
        await this.sleep(50);
        this.reapWorkers({ halting: true });
      }
    }
    await callHook(this.hooks, "on_exit", this.log, this);
    this.#pidfile?.unlink();
    this.log.info("Shutting down: Master");
    return exitCode;
  }
}
