/**
 * Holds COUNT idle keep-alive connections to a server: each sends one GET, reads its answer,
 * and then stays open and silent. Prints one JSON line `{"open":N,"failed":M}` once every
 * connection has been answered (or has failed), and again for each line it reads on stdin (so
 * the bench can check none was dropped while it read the server's memory); it keeps them open
 * until it is killed.
 *
 *   node dist/bench/idle-client.js PORT COUNT
 *
 * Runs in its own process (it needs COUNT file descriptors, like the server): mind `ulimit -n`.
 */
import { connect, type Socket } from "node:net";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
if (!Number.isInteger(port) || !Number.isInteger(count) || count <= 0) {
  process.stderr.write("usage: idle-client PORT COUNT\n");
  process.exit(2);
}

/** Connections opening at once: enough to be quick, few enough not to overflow the backlog. */
const AT_ONCE = 200;
const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const held: Socket[] = [];
let failed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      if (ok) held.push(socket);
      else {
        failed++;
        socket.destroy();
      }
      resolve();
    };
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write(REQUEST));
    socket.on("data", (text: string) => {
      answer += text;
      // The whole hello response is in (with a Content-Length, or chunked as raw node:http
      // sends it): from now on the connection is idle.
      if (answer.endsWith("Hello, World!") || answer.endsWith("Hello, World!\r\n0\r\n\r\n"))
        settle(true);
    });
    socket.on("error", () => settle(false));
    socket.on("close", () => settle(false));
  });
}

let next = 0;
async function lane(): Promise<void> {
  while (next < count) {
    next++;
    await openOne();
  }
}
/** How many held connections are still open (the server may have timed some out). */
function report(): void {
  const open = held.filter((socket) => !socket.destroyed).length;
  process.stdout.write(`${JSON.stringify({ open, failed })}\n`);
}

await Promise.all(Array.from({ length: Math.min(AT_ONCE, count) }, lane));
report();
// Each line on stdin asks again; the sockets keep us alive until the bench kills us.
process.stdin.on("data", report);
