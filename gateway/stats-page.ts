/**
 * The worker stats on the metrics listener (--metrics-bind), never on the app's port:
 *   GET /stats          the document of worker-stats.ts, as JSON
 *   GET /stats/stream   the same document as server-sent events, after every change
 *   GET /               a live page drawing it: one box per worker, and the arbiter's events
 * The page is one HTML file with its style and script inline: no build step, no dependency,
 * nothing fetched from elsewhere.
 */
import { unlinkSync, writeFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { join } from "node:path";
import { describeListener } from "./addresses.js";
import type { Logger } from "./log.js";
import type { WorkerStatsBoard } from "./worker-stats.js";

/** Least time between two events of the stream: a busy server changes many times a second. */
const STREAM_THROTTLE_MS = 250;
/** Longest time between two events: durations and heartbeat ages move even when nothing happens. */
const STREAM_REFRESH_MS = 1000;

/** Answers the stats' URLs; returns false for any other (the caller answers it). */
export type Route = (request: IncomingMessage, response: ServerResponse) => boolean;

export function statsRoutes(board: WorkerStatsBoard): Route {
  return (request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (path === "/stats") {
      const body = JSON.stringify(board.document(), null, 2) + "\n";
      response
        .writeHead(200, {
          "Content-Type": "application/json; charset=utf-8",
          "Cache-Control": "no-store",
        })
        .end(body);
    } else if (path === "/stats/stream") stream(board, response);
    else if (path === "/") {
      response
        .writeHead(200, {
          "Content-Type": "text/html; charset=utf-8",
          "Cache-Control": "no-store",
          // Everything the page needs is inline; it may talk to this listener only.
          "Content-Security-Policy":
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
        })
        .end(PAGE);
    } else return false;
    return true;
  };
}

/** Where a master with this pid says its metrics listener is (see writeAddressFile). */
export function addressFilePath(dir: string, masterPid: number): string {
  return join(dir, `gateway-${masterPid}.metrics`);
}

/**
 * Writes where the metrics listener listens (`http://HOST:PORT` or `unix:PATH`, the real port
 * when --metrics-bind said 0) to a small file named after the master's pid, so that `gateway
 * status --pid` finds it. Returns the function that removes it.
 */
export function writeAddressFile(server: Server, dir: string, log: Logger): () => void {
  const path = addressFilePath(dir, process.pid);
  server.once("listening", () => {
    try {
      writeFileSync(path, describeListener(server.address()) + "\n");
    } catch (error) {
      log.warning(
        "Cannot write %s (gateway status --pid needs it): %s",
        path,
        (error as Error).message,
      );
    }
  });
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // never written
    }
  };
}

/** Server-sent events: the whole document each time (a few KB), at most every 250 ms. */
function stream(board: WorkerStatsBoard, response: ServerResponse): void {
  response.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
  });
  let pending: NodeJS.Timeout | null = null;
  const send = () => {
    pending = null;
    response.write(`data: ${JSON.stringify(board.document())}\n\n`);
  };
  const soon = () => {
    pending ??= setTimeout(send, STREAM_THROTTLE_MS).unref();
  };
  response.write(`retry: ${STREAM_REFRESH_MS}\n\n`);
  send();
  const unsubscribe = board.subscribe(soon);
  const refresh = setInterval(soon, STREAM_REFRESH_MS).unref();
  response.on("close", () => {
    unsubscribe();
    clearInterval(refresh);
    if (pending !== null) clearTimeout(pending);
  });
}

/**
 * The page. Its script builds everything with textContent (nothing from the server is ever
 * parsed as HTML) and keeps one box per worker pid, so a box stays put while its numbers move.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gateway: the arbiter and its workers</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.35rem; margin: 0 0 .3rem; }
  code, .mono { font-family: ui-monospace, monospace; font-size: .92em; }
  .intro { max-width: 60rem; color: #3b4354; }
  #master { margin: .8rem 0; }
  #connection { font-size: .85rem; color: #8a6d00; }
  #connection.live { color: #1b7f3b; }
  #workers { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; min-height: 9rem; }
  .worker { width: 15rem; border-radius: .5rem; padding: .6rem .8rem; background: #fff;
            border: 2px solid #9aa3b5; box-shadow: 0 1px 2px #0002; transition: border-color .3s, opacity .3s; }
  .worker h2 { font-size: 1.05rem; margin: 0 0 .2rem; display: flex; justify-content: space-between; }
  .worker .state { font-size: .8rem; padding: .05rem .45rem; border-radius: 1rem; color: #fff; }
  .worker.booting { border-color: #3b6fd8; } .booting .state { background: #3b6fd8; }
  .worker.idle { border-color: #1b7f3b; } .idle .state { background: #1b7f3b; }
  .worker.busy { border-color: #c26a00; } .busy .state { background: #c26a00; }
  .worker.retiring { border-color: #8b8f99; opacity: .6; } .retiring .state { background: #8b8f99; }
  .worker dl { display: grid; grid-template-columns: auto 1fr; gap: 0 .6rem; margin: .3rem 0 0; font-size: .85rem; }
  .worker dt { color: #5d6577; } .worker dd { margin: 0; }
  .worker .request { min-height: 1.3em; font-size: .85rem; margin-top: .3rem; }
  .worker.served { box-shadow: 0 0 0 4px #1b7f3b55; }
  .worker.silent .heartbeat { color: #b3261e; font-weight: bold; }
  .legend span { margin-right: 1rem; }
  .legend b { display: inline-block; width: .8rem; height: .8rem; border-radius: .2rem; vertical-align: middle; margin-right: .3rem; }
  table { border-collapse: collapse; width: 100%; max-width: 72rem; background: #fff; font-size: .88rem; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
  th { background: #eceff4; }
  .try { background: #fff; border-left: 4px solid #3b6fd8; padding: .5rem .9rem; max-width: 60rem; }
  .try li { margin: .15rem 0; }
</style>
</head>
<body>
<h1>The arbiter and its workers</h1>
<p class="intro">One <b>master</b> process (the arbiter) starts <b>worker</b> processes and watches
them; the workers accept the connections and run the app. Each box below is one worker process.
The master replaces a worker that dies, starts or stops workers when told to (signals), and
replaces them all, one by one, on a reload (HUP). The log at the bottom says what it did and why.</p>
<p id="master">Waiting for the master… <span id="connection">connecting</span></p>
<p class="legend">
  <span><b style="background:#3b6fd8"></b>booting: starting Node, importing the app</span>
  <span><b style="background:#1b7f3b"></b>idle: waiting for a request</span>
  <span><b style="background:#c26a00"></b>busy: serving a request</span>
  <span><b style="background:#8b8f99"></b>retiring: finishing its requests, then exits</span>
</p>
<div id="workers"></div>
<div class="try">Try it (in a terminal on this machine):
<ul id="try">
  <li><code>kill -TTIN <span class="master-pid">PID</span></code>: one worker more</li>
  <li><code>kill -TTOU <span class="master-pid">PID</span></code>: one worker fewer (the oldest goes)</li>
  <li><code>kill -HUP <span class="master-pid">PID</span></code>: reload: new workers first, then the old ones retire</li>
  <li><code>kill -9 <i>a worker's pid</i></code>: the worker dies at once; the master starts another</li>
</ul></div>
<h2 style="font-size:1.1rem">What the arbiter did (newest first)</h2>
<table><thead><tr><th>time</th><th>event</th><th>worker</th><th>why</th></tr></thead>
<tbody id="events"></tbody></table>
<script>
"use strict";
const boxes = new Map();
const served = new Map();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bytes(count) {
  return count === null ? "?" : (count / 1048576).toFixed(1) + " MB";
}

function duration(seconds) {
  if (seconds < 60) return seconds.toFixed(1) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}

function newBox(pid) {
  const box = element("div", "worker");
  box.dataset.pid = String(pid);
  const title = element("h2");
  title.append(element("span", "pid", "pid " + pid), element("span", "state"));
  const list = element("dl");
  for (const [key, label] of [["generation", "generation"], ["requests", "requests"],
      ["uptime", "up for"], ["heartbeat", "heartbeat"], ["rss", "memory (RSS)"]]) {
    list.append(element("dt", "", label), element("dd", key));
  }
  box.append(title, list, element("div", "request"));
  return box;
}

function drawWorker(box, worker) {
  box.className = "worker " + worker.state;
  box.querySelector(".state").textContent =
    worker.state + (worker.reason ? " (" + worker.reason + ")" : "");
  box.querySelector(".generation").textContent = String(worker.generation);
  box.querySelector(".requests").textContent =
    worker.requests + (worker.max_requests > 0 ? " of " + worker.max_requests : "");
  box.querySelector(".uptime").textContent = duration(worker.uptime_s);
  // A worker reports several times a second: silence means its event loop is stuck, and the
  // master kills it once the silence outlasts --timeout.
  box.classList.toggle("silent", worker.heartbeat_age_s > 2);
  box.querySelector(".heartbeat").textContent = duration(worker.heartbeat_age_s) + " ago" +
    (worker.heartbeat_age_s > 2 ? " (stuck?)" : "");
  box.querySelector(".rss").textContent = bytes(worker.rss_bytes);
  const request = worker.request;
  box.querySelector(".request").textContent = request === null ? "" :
    request.method + " " + request.path + " for " + duration(request.for_s) +
    (worker.in_flight > 1 ? " (+" + (worker.in_flight - 1) + " more)" : "");
  if (served.has(worker.pid) && served.get(worker.pid) !== worker.requests) {
    box.classList.add("served");
    setTimeout(() => box.classList.remove("served"), 300);
  }
  served.set(worker.pid, worker.requests);
}

function draw(stats) {
  const master = stats.master;
  document.getElementById("master").firstChild.textContent =
    "Master pid " + master.pid + " (" + master.name + "), up for " + duration(master.uptime_s) +
    ": wants " + master.workers_wanted + " worker(s), generation " + master.generation +
    " (one more per reload). ";
  for (const node of document.querySelectorAll(".master-pid")) node.textContent = String(master.pid);
  const container = document.getElementById("workers");
  const alive = new Set();
  for (const worker of stats.workers) {
    alive.add(worker.pid);
    let box = boxes.get(worker.pid);
    if (box === undefined) {
      box = newBox(worker.pid);
      boxes.set(worker.pid, box);
      container.append(box);
    }
    drawWorker(box, worker);
  }
  for (const [pid, box] of boxes) if (!alive.has(pid)) { box.remove(); boxes.delete(pid); served.delete(pid); }
  const rows = [];
  for (const event of stats.events.slice().reverse()) {
    const row = element("tr");
    row.dataset.kind = event.kind;
    row.append(element("td", "mono", event.time.slice(11, 23)), element("td", "", event.kind),
      element("td", "mono", event.pid === null ? "master" : String(event.pid)), element("td", "", event.reason));
    rows.push(row);
  }
  document.getElementById("events").replaceChildren(...rows);
}

const connection = document.getElementById("connection");
const source = new EventSource("stats/stream");
source.onopen = () => { connection.textContent = "live"; connection.className = "live"; };
source.onerror = () => { connection.textContent = "reconnecting…"; connection.className = ""; };
source.onmessage = (message) => draw(JSON.parse(message.data));
</script>
</body>
</html>
`;
