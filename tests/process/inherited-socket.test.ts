/**
 * `--bind fd://3`: the gateway started as systemd's socket activation starts it, with the
 * listening socket already open at descriptor 3. A small Python program stands in for the
 * supervisor: it binds the socket, moves it to descriptor 3 and `exec`s the gateway, which so
 * keeps the supervisor's pid and copy of the socket (as the service's main process does).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { APPS, CLI, GatewayProcess, get, metricsPort } from "./gateway-process.js";

vi.setConfig({ testTimeout: 90_000 });

/** Binds `family` (tcp: 127.0.0.1, a free port; unix: a path), then runs argv as descriptor 3's owner. */
const SUPERVISOR = `
import os, socket, sys, tempfile
if sys.argv[1] == "unix":
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(tempfile.mkdtemp(), "gateway.sock"))
else:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # when the socket was fd 3 already, dup2 changed nothing
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))  # exec keeps the pid
os.execv(sys.argv[2], sys.argv[2:])
`;

const started: GatewayProcess[] = [];
function supervised(family: "tcp" | "unix", args: string[]): GatewayProcess {
  const server = new GatewayProcess(
    args,
    {},
    {
      command: ["python3", "-c", SUPERVISOR, family, process.execPath, CLI],
    },
  );
  started.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.kill()));
});

const pidIn = (body: string) => Number(/pid=(\d+)/.exec(body)?.[1]);

describe("--bind fd://3 (an inherited socket)", () => {
  it("every worker accepts on the inherited socket, and no warning about systemd's sockets", async () => {
    const server = await supervised("tcp", ["-w", "2", "-b", "fd://3", `${APPS}/slow.js`]).ready(2);
    const workers = await server.workerPids();
    const reply = await get(server.port, "/");
    expect(reply.status).toBe(200);
    expect(workers).toContain(pidIn(reply.body));
    expect(server.log).toContain(`Listening at: http://127.0.0.1:${server.port}`);
    expect(server.log).not.toMatch(/LISTEN_FDS/);
  });

  it("a request made while the only worker is replaced waits in the socket's queue and is served (on a port the gateway opened, the socket closes with its last worker and resets it)", async () => {
    const server = await supervised("tcp", ["-w", "1", "-b", "fd://3", `${APPS}/slow.js`]).ready(1);
    const [victim] = await server.workerPids();
    process.kill(victim!, "SIGKILL");
    // Sent at once, before the replacement exists: the supervisor's copy keeps the socket open.
    const reply = await get(server.port, "/");
    expect(reply.status).toBe(200);
    expect(pidIn(reply.body)).not.toBe(victim);
    expect(await server.workerPids()).toContain(pidIn(reply.body));
  });

  it("--metrics-bind fd://3: the master serves its metrics on the inherited socket", async () => {
    const server = supervised("tcp", [
      "-b",
      "127.0.0.1:0",
      "--metrics-bind",
      "fd://3",
      `${APPS}/slow.js`,
    ]);
    const port = await metricsPort(server);
    const reply = await get(port, "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("gateway_workers");
  });

  it("systemd's socket left unused (LISTEN_FDS, but no fd:// address): a warning names the flag", async () => {
    const server = await supervised("tcp", ["-b", "127.0.0.1:0", `${APPS}/slow.js`]).ready(1);
    expect(server.log).toMatch(
      /\[WARNING\] systemd passed a listening socket \(LISTEN_FDS=1\) that no address uses: --bind fd:\/\/3/,
    );
  });

  it("a descriptor that is not open stops start-up with one line, before any worker starts", async () => {
    const server = new GatewayProcess(["-b", "fd://1000", `${APPS}/slow.js`]);
    started.push(server);
    expect((await server.exited).code).toBe(3);
    expect(server.log).toMatch(
      /--bind: descriptor 1000 is not open: start the gateway with a listening socket there/,
    );
    expect(server.log).not.toMatch(/Booting worker/);
  });

  it("a unix socket at the descriptor stops the server with a message that names --bind unix:PATH", async () => {
    const server = supervised("unix", ["-w", "1", "-b", "fd://3", `${APPS}/slow.js`]);
    expect((await server.exited).code).toBe(3);
    expect(server.log).toMatch(
      /descriptor 3 is not a TCP socket \(for a unix socket, use --bind unix:PATH\)/,
    );
  });
});
