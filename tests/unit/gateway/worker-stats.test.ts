/**
 * The stats' two halves without processes: a worker's probe (what it counts per request) and
 * the master's board (states, the HUP bookkeeping, the bounded log, the table of `gateway status`).
 */
import { describe, expect, it } from "vitest";
import { renderStatus } from "../../../gateway/status-command.js";
import { WorkerProbe, type WorkerStatsMessage } from "../../../gateway/worker-probe.js";
import {
  EVENT_LOG_SIZE,
  WorkerStatsBoard,
  type ArbiterView,
  type WorkerRecordView,
} from "../../../gateway/worker-stats.js";

describe("a worker's probe", () => {
  const request = (url: string) => ({ method: "GET", url });

  it("follows the request started last while it is in progress", () => {
    let served = 0;
    const probe = new WorkerProbe(
      100,
      () => served,
      () => {},
    );
    expect(probe.snapshot()).toMatchObject({
      inFlight: 0,
      current: null,
      served: 0,
      maxRequests: 100,
    });
    const slow = request("/slow");
    probe.requestStarted(slow);
    const first = probe.snapshot(1_000);
    expect(first).toMatchObject({
      inFlight: 1,
      current: { method: "GET", path: "/slow", since: 1_000 },
    });
    // Still the same request a second later: it is counted from when it was first seen.
    expect(probe.snapshot(2_000).current?.since).toBe(1_000);
    const quick = request("/quick");
    probe.requestStarted(quick);
    expect(probe.snapshot(2_100)).toMatchObject({
      inFlight: 2,
      current: { path: "/quick", since: 2_100 },
    });
    probe.requestFinished(quick);
    served += 1;
    // The older one is still in flight, but which one it is is no longer known.
    expect(probe.snapshot(2_200)).toMatchObject({ inFlight: 1, current: null, served: 1 });
    probe.requestFinished(slow);
    served += 1;
    expect(probe.snapshot()).toMatchObject({ inFlight: 0, current: null, served: 2 });
    expect(probe.snapshot().rss).toBeGreaterThan(0);
  });
});

/** An arbiter made of a Map the test changes as the arbiter would. */
function fakeArbiter() {
  const workers = new Map<
    number,
    WorkerRecordView & { state: WorkerRecordView["state"]; reason?: string }
  >();
  const view: ArbiterView = { pid: 1, name: "app", numWorkers: 2, workers };
  const add = (pid: number, age: number) =>
    workers.set(pid, { pid, age, state: "booting", lastHeartbeat: performance.now() });
  return { view, workers, add };
}

const message = (inFlight: number): WorkerStatsMessage => ({
  gateway: "stats",
  served: 3,
  maxRequests: 0,
  inFlight,
  current: inFlight > 0 ? { method: "POST", path: "/upload", since: Date.now() - 1500 } : null,
  rss: 50 * 1048576,
});

describe("the master's board", () => {
  it("tells booting, idle, busy and retiring apart", () => {
    const { view, workers, add } = fakeArbiter();
    const board = new WorkerStatsBoard(view);
    for (const [pid, age] of [
      [10, 1],
      [11, 2],
      [12, 3],
      [13, 4],
    ] as const) {
      add(pid, age);
      board.spawned(pid, age);
    }
    workers.get(11)!.state = "ready";
    workers.get(12)!.state = "ready";
    board.heard(12, message(1));
    workers.get(13)!.state = "retiring";
    workers.get(13)!.reason = "max_requests";
    const document = board.document();
    expect(document.workers.map((worker) => [worker.pid, worker.state, worker.reason])).toEqual([
      [10, "booting", null],
      [11, "idle", null],
      [12, "busy", null],
      [13, "retiring", "max_requests"],
    ]);
    const busy = document.workers[2]!;
    expect(busy.request).toMatchObject({ method: "POST", path: "/upload" });
    expect(busy.request!.for_s).toBeGreaterThanOrEqual(1.5);
    expect(busy).toMatchObject({ requests: 3, in_flight: 1, rss_bytes: 50 * 1048576 });
    expect(document.workers[0]!.rss_bytes).toBeNull();
  });

  it("completes a HUP when its workers booted and the old ones are gone, and undoes a failed one", () => {
    const { view, workers, add } = fakeArbiter();
    const board = new WorkerStatsBoard(view);
    add(10, 1);
    board.spawned(10, 1);
    workers.get(10)!.state = "retiring";
    workers.get(10)!.reason = "reload";
    board.hupStarted();
    add(11, 2);
    board.spawned(11, 2);
    workers.get(11)!.state = "ready";
    board.booted(11);
    expect(board.document().events.map((event) => event.kind)).not.toContain("hup_completed");
    workers.delete(10);
    board.exited(10, { code: 0, signal: null }, "reload", true);
    const done = board.document();
    expect(done.events.at(-1)).toMatchObject({ kind: "hup_completed", pid: null });
    expect(done.master.generation).toBe(1);
    expect(done.workers[0]!.generation).toBe(1);

    board.hupStarted();
    expect(board.document().master.generation).toBe(2);
    board.hupFailed("new workers cannot boot (exit code 4)");
    expect(board.document().master.generation).toBe(1);
    expect(board.document().events.at(-1)).toMatchObject({ kind: "hup_failed" });
  });

  it("keeps the last EVENT_LOG_SIZE events, oldest first", () => {
    const { view } = fakeArbiter();
    const board = new WorkerStatsBoard(view);
    for (let i = 0; i < EVENT_LOG_SIZE + 5; i++) board.event("ttin", null, `event ${i}`);
    const { events } = board.document();
    expect(events).toHaveLength(EVENT_LOG_SIZE);
    expect(events[0]!.reason).toBe("event 5");
    expect(events.at(-1)!.reason).toBe(`event ${EVENT_LOG_SIZE + 4}`);
  });

  it("tells its subscribers after each change, until they unsubscribe", () => {
    const { view, add } = fakeArbiter();
    const board = new WorkerStatsBoard(view);
    let calls = 0;
    const unsubscribe = board.subscribe(() => (calls += 1));
    add(10, 1);
    board.spawned(10, 1);
    board.heard(10, message(0));
    board.heard(99, message(0)); // not a worker it knows: nothing changes
    expect(calls).toBe(2);
    unsubscribe();
    board.event("ttou", null, "x");
    expect(calls).toBe(2);
  });

  it("is drawn as a table by gateway status", () => {
    const { view, workers, add } = fakeArbiter();
    const board = new WorkerStatsBoard(view);
    add(4242, 1);
    board.spawned(4242, 1);
    workers.get(4242)!.state = "ready";
    board.heard(4242, message(1));
    const text = renderStatus(board.document());
    expect(text).toMatch(/^master 1 \[app\] {2}generation 0 {2}workers 1 \(wanted 2\)/);
    expect(text).toMatch(
      /^4242 +1 +0 +busy +3 +\S+ +\S+ ago +50\.0 MB +POST \/upload \(1\.\ds\)$/m,
    );
    expect(text).toMatch(/spawned +4242 +worker #1, generation 0$/m);
  });
});
